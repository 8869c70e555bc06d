"""Pure fetcher logic: where a scan starts, size split, dedupe keys, backoff, state changes."""

from datetime import UTC, datetime, timedelta

import pytest

from postroom_fetcher.domain.leases import fetch_fingerprint
from postroom_fetcher.domain.origin import pop3_mail_key
from postroom_fetcher.domain.oversize import sender_and_subject, too_large_reason
from postroom_fetcher.domain.plan import (
    Scan,
    SizeSplit,
    batch_weight,
    batches,
    byte_batches,
    dedupe_key,
    header_block,
    scan_from,
    split_by_size,
)
from postroom_fetcher.domain.state import (
    BackoffPolicy,
    Failure,
    after_failure,
    after_success,
    status_changed,
)
from postroom_shared.models import AccountState, Checkpoint, EmailAccount

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _checkpoint(uidvalidity: int, last_uid: int) -> Checkpoint:
    return Checkpoint(account_id="a", folder="INBOX", uidvalidity=uidvalidity, last_uid=last_uid)


def test_scan_starts_after_the_checkpoint_or_rescans_on_a_new_uidvalidity() -> None:
    assert scan_from(None, 7) == Scan(after_uid=0, rescan=False)
    assert scan_from(_checkpoint(7, 42), 7) == Scan(after_uid=42, rescan=False)
    assert scan_from(_checkpoint(6, 42), 7) == Scan(after_uid=0, rescan=True)


def test_batches_and_size_split() -> None:
    assert list(batches([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(batches([], 3)) == []
    assert split_by_size({3: 10, 1: 2000, 2: 1000}, limit=1000, inline_max=1000) == SizeSplit(
        whole=[2, 3], streamed=[], too_large=[1]
    )
    assert split_by_size(
        {1: 10, 2: 600, 3: 1000, 4: 1001}, limit=1000, inline_max=500
    ) == SizeSplit(whole=[1], streamed=[2, 3], too_large=[4])


def test_byte_batches_cut_by_count_and_by_bytes() -> None:
    def cut(weights: list[int], count: int = 20, budget: int = 100) -> list[list[int]]:
        items = list(enumerate(weights))
        return list(byte_batches(items, count=count, budget=budget))

    assert cut([]) == []
    assert cut([10] * 5, count=2) == [[0, 1], [2, 3], [4]]
    assert cut([40, 40, 40, 10]) == [[0, 1], [2, 3]]
    assert cut([100, 1]) == [[0], [1]]  # exactly the budget still fits
    # a mail bigger than the budget is a batch of its own, before and after it a new one
    assert cut([10, 500, 10, 10]) == [[0], [1], [2, 3]]
    assert cut([0] * 30, count=20) == [list(range(20)), list(range(20, 30))]
    # 30 mails of 4 MB under a 16 MB budget: batches of 4, never 20 x 4 MB at once
    four_mb = 4 * 1024 * 1024
    assert [len(b) for b in cut([four_mb] * 30, budget=16 * 1024 * 1024)] == [4] * 7 + [2]
    assert batch_weight(5000, limit=1000) == 0 and batch_weight(900, limit=1000) == 900


RAW = (
    b"From: Casey <casey@example.test>\r\nSubject: hello\r\n"
    b"Message-ID:\r\n <abc.123@example.test>\r\n\r\nbody\r\n\r\nmore\r\n"
)


def test_header_block_matches_what_imap_returns_for_body_header() -> None:
    block = header_block(RAW)
    assert block.endswith(b"\r\n\r\n") and b"body" not in block
    assert header_block(b"Subject: x\n\nbody") == b"Subject: x\n\n"
    assert header_block(b"Subject: only headers") == b"Subject: only headers"


def test_dedupe_key_is_the_message_id_even_when_folded() -> None:
    assert dedupe_key(header_block(RAW)) == "<abc.123@example.test>"
    assert dedupe_key(b"message-id: <X@Y>\r\n\r\n") == "<X@Y>"


def test_dedupe_key_without_message_id_hashes_the_headers_line_ending_blind() -> None:
    crlf = b"From: a@example.test\r\nSubject: no id\r\n\r\n"
    lf = b"From: a@example.test\nSubject: no id\n\n"
    assert dedupe_key(crlf).startswith("sha256:")
    assert dedupe_key(crlf) == dedupe_key(lf)
    assert dedupe_key(crlf) != dedupe_key(b"From: a@example.test\r\nSubject: other\r\n\r\n")
    assert dedupe_key(b"Message-ID: \r\nSubject: empty id\r\n\r\n").startswith("sha256:")


def test_pop3_key_is_per_account_and_uidl() -> None:
    assert pop3_mail_key("acc", "000001a24f6b") == "acc/pop3/000001a24f6b"


def test_sender_and_subject_of_a_header_block_are_decoded() -> None:
    headers = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.test>\r\n"
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n\r\n"
    )
    sender, subject = sender_and_subject(headers)
    assert sender is not None and sender.address == "juergen@example.test"
    assert sender.name == "Jürgen" and subject == "Grüße"
    assert sender_and_subject(b"From: nobody\r\n\r\n") == (None, "")
    assert sender_and_subject(b"\xff\xfe garbage") == (None, "")
    assert "31457280 bytes" in too_large_reason(31457280, 26214400)
    assert "26214400 bytes" in too_large_reason(31457280, 26214400)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = BackoffPolicy(base_s=2, permanent_base_s=60, max_s=900, reauth_s=3600)
    low = [policy.delay(n, permanent=False, reauth=False, jitter=0.0) for n in range(1, 6)]
    high = [policy.delay(n, permanent=False, reauth=False, jitter=0.999) for n in range(1, 6)]
    assert low == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert all(h > lo and h < 2 * lo for lo, h in zip(low, high, strict=True))
    assert policy.delay(30, permanent=False, reauth=False, jitter=0.999) <= 900
    assert policy.delay(1, permanent=True, reauth=False, jitter=0.0) == 30.0
    assert policy.delay(1, permanent=True, reauth=True, jitter=0.5) == 3600


AUTH = Failure("auth", "IMAP login failed: [AUTHENTICATIONFAILED]", permanent=True)


def test_failures_count_up_keep_their_first_time_and_success_resets() -> None:
    policy = BackoffPolicy()
    first = after_failure(None, "a", AUTH, now=NOW, policy=policy, jitter=0.0)
    assert (first.status, first.error_kind, first.failures) == ("error", "auth", 1)
    assert first.since == NOW
    assert first.next_attempt == NOW + timedelta(seconds=30)
    later = NOW + timedelta(minutes=5)
    second = after_failure(first, "a", AUTH, now=later, policy=policy, jitter=0.0)
    assert (second.failures, second.since) == (2, NOW)
    assert second.next_attempt == later + timedelta(seconds=60)
    ok = after_success(second, "a", now=later, mode="idle")
    assert (ok.status, ok.failures, ok.mode) == ("ok", 0, "idle")
    assert ok.since is None and ok.last_error is None
    assert ok.last_success == later


def test_consent_revoked_means_needs_reauth() -> None:
    failure = Failure("consent_revoked", "invalid_grant", permanent=True)
    state = after_failure(None, "a", failure, now=NOW, policy=BackoffPolicy(), jitter=0.3)
    assert state.status == "needs_reauth"
    assert state.next_attempt == NOW + timedelta(seconds=3600)


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        (None, "ok", False),
        (None, "error", True),
        ("ok", "error", True),
        ("error", "error", False),
        ("error", "needs_reauth", True),
        ("needs_reauth", "ok", True),
    ],
)
def test_state_event_only_when_the_status_changes(
    before: str | None, after: str, changed: bool
) -> None:
    previous = AccountState(account_id="a", status=before) if before else None  # type: ignore[arg-type]
    current = AccountState(account_id="a", status=after)  # type: ignore[arg-type]
    assert status_changed(previous, current) is changed


def test_only_fetch_settings_restart_an_accounts_worker() -> None:
    account = EmailAccount.model_validate(
        {
            "id": "a",
            "name": "Support",
            "address": "support@example.test",
            "project": "Support",
            "provider": "microsoft",
            "mailbox": {"host": "outlook.office365.com", "port": 993, "username": "s@x.test"},
            "oauth": {"client_id": "c", "refresh_token_enc": "r1"},
        }
    )
    assert account.oauth is not None
    rotated = account.model_copy(
        update={"oauth": account.oauth.model_copy(update={"refresh_token_enc": "r2"})}
    )
    other_project = account.model_copy(update={"project": "Other"})
    faster = account.model_copy(update={"poll_interval_s": 5})
    same = fetch_fingerprint(account)
    assert fetch_fingerprint(rotated) == same
    assert fetch_fingerprint(other_project) == same
    assert fetch_fingerprint(faster) != same


def test_rate_limits_back_off_on_the_slow_schedule_but_stay_transient() -> None:
    throttled = Failure("rate_limited", "[THROTTLED] try again later", permanent=False)
    network = Failure("network", "connection refused", permanent=False)
    policy = BackoffPolicy()
    slow = after_failure(None, "a", throttled, now=NOW, policy=policy, jitter=0.0)
    fast = after_failure(None, "a", network, now=NOW, policy=policy, jitter=0.0)
    assert slow.next_attempt == NOW + timedelta(seconds=30)
    assert fast.next_attempt == NOW + timedelta(seconds=1)
    assert slow.status == fast.status == "error"
