"""Which fetcher replica reads an account, and when its worker must start afresh or wake: the
lease's name, the fingerprint of what the worker's connection depends on, the new OAuth
authorisation, and the "fetch now" flag the API sets. Pure."""

import hashlib
import json

from postroom_shared.models import EmailAccount

__all__ = [
    "FETCH_NOW_KEY",
    "FETCH_NOW_NAMESPACE",
    "fetch_fingerprint",
    "lease_name",
    "oauth_token_of",
]

# "fetch now": a seen key the API adds and the replica holding the account's lease consumes
FETCH_NOW_NAMESPACE = "fetch-now"
FETCH_NOW_KEY = "requested"

_FETCH_FIELDS = {
    "provider",
    "mailbox",
    "after_read",
    "poll_interval_s",
    "use_idle",
    "max_mail_bytes",
}


def lease_name(account_id: str) -> str:
    return f"fetch:{account_id}"


def fetch_fingerprint(account: EmailAccount) -> str:
    """What the worker's connection depends on; other edits (templates...) do not restart it.
    A rotated refresh token is stored often (every refresh for Microsoft): not a change."""
    data = account.model_dump(mode="json", include=_FETCH_FIELDS)
    if account.oauth is not None:
        data["oauth"] = account.oauth.model_dump(mode="json", exclude={"refresh_token_enc"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def oauth_token_of(account: EmailAccount) -> str | None:
    """The stored (sealed) refresh token: a new one means a new authorisation, which wakes the
    account's worker without restarting it."""
    return account.oauth.refresh_token_enc if account.oauth else None
