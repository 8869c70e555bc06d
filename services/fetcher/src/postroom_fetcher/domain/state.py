"""An account's fetch state and its backoff schedule: pure functions of (previous state, outcome).

The state is what the API shows ("authentication failed since 10:02, next attempt 10:20");
`account.state.v1` is published only when the status changes (ok / error / needs_reauth),
never for every failed attempt.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from postroom_shared.models import AccountState

__all__ = [
    "STATE_REFRESH_S",
    "BackoffPolicy",
    "Failure",
    "after_failure",
    "after_success",
    "mailbox_failure",
    "state_write_due",
    "status_changed",
]

Mode = Literal["idle", "poll"]
STATE_REFRESH_S = 60.0  # an unchanged "ok" state is rewritten at most this often


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with jitter. Permanent errors (a wrong password) start slower, so
    the provider does not lock the account; `needs_reauth` waits the longest: only a new
    authorisation (or "fetch now") helps."""

    base_s: float = 2.0
    permanent_base_s: float = 60.0
    max_s: float = 900.0
    reauth_s: float = 3600.0

    def delay(self, failures: int, *, permanent: bool, reauth: bool, jitter: float) -> float:
        """Seconds before the next attempt after `failures` failures in a row; `jitter` in
        [0, 1) spreads retries ("equal jitter": half fixed, half random)."""
        if reauth:
            return self.reauth_s
        base = self.permanent_base_s if permanent else self.base_s
        full = min(self.max_s, base * 2.0 ** max(0, failures - 1))
        return full / 2 + full / 2 * jitter


@dataclass(frozen=True)
class Failure:
    kind: str
    message: str
    permanent: bool

    @property
    def reauth(self) -> bool:
        return self.kind == "consent_revoked"


def after_success(
    previous: AccountState | None, account_id: str, *, now: datetime, mode: Mode
) -> AccountState:
    return AccountState(
        account_id=account_id,
        status="ok",
        failures=0,
        last_success=now,
        mode=mode,
        updated_at=now,
    )


def after_failure(
    previous: AccountState | None,
    account_id: str,
    failure: Failure,
    *,
    now: datetime,
    policy: BackoffPolicy,
    jitter: float,
) -> AccountState:
    failed_before = previous is not None and previous.status != "ok"
    failures = (previous.failures if previous else 0) + 1
    # A server that says "slow down" (Gmail's [THROTTLED]) gets the slow schedule too.
    slow = failure.permanent or failure.kind == "rate_limited"
    delay = policy.delay(failures, permanent=slow, reauth=failure.reauth, jitter=jitter)
    return AccountState(
        account_id=account_id,
        status="needs_reauth" if failure.reauth else "error",
        error_kind=failure.kind,
        last_error=failure.message,
        since=previous.since if failed_before and previous and previous.since else now,
        next_attempt=now + timedelta(seconds=delay),
        failures=failures,
        last_success=previous.last_success if previous else None,
        mode=previous.mode if previous else None,
        updated_at=now,
    )


def status_changed(previous: AccountState | None, current: AccountState) -> bool:
    """Whether `account.state.v1` is due: an unknown previous state counts as ok."""
    before = previous.status if previous else "ok"
    return before != current.status


def mailbox_failure(
    kind: str, message: str, *, permanent: bool, oauth: bool, ok_before: bool
) -> Failure:
    """The failure a mailbox error counts as. A refused OAuth token is not permanent the first
    time: it is retried soon with a fresh one, which also finds out whether the grant itself
    is gone; a second refusal in a row is."""
    if kind == "auth" and oauth:
        permanent = permanent and not ok_before
    return Failure(kind, message, permanent)


def state_write_due(previous: AccountState | None, current: AccountState, *, age_s: float) -> bool:
    """Whether a successful attempt's state is stored: always on a change of status or mode,
    else when the stored one is `STATE_REFRESH_S` old (it says when the account last worked)."""
    fresh = previous is not None and previous.status == "ok" and previous.mode == current.mode
    return not fresh or age_s >= STATE_REFRESH_S
