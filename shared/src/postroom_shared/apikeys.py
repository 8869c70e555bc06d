"""API keys: how they are made, stored and checked (used by the API and `postroom api-key`).

A key reads `pr_<id>_<secret>`: the `pr_<id>` part is its recognisable prefix (shown in lists,
found in logs and secret scanners), the whole key is shown once at creation and only its sha256
is stored. A presented key is looked up by its hash and then compared in constant time.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from postroom_shared.models import ApiKey, ApiScope
from postroom_shared.store.ports import ConfigStore

__all__ = ["KEY_PREFIX", "find_api_key", "hash_key", "new_api_key"]

KEY_PREFIX = "pr_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(
    name: str, scopes: Sequence[ApiScope], account_ids: Sequence[str] = ()
) -> tuple[ApiKey, str]:
    """A new key record and the key itself (to be shown once, never stored)."""
    key_id = "key_" + secrets.token_hex(6)
    prefix = f"{KEY_PREFIX}{key_id}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(
        id=key_id,
        name=name,
        scopes=sorted(set(scopes)),
        key_hash=hash_key(key),
        prefix=prefix,
        account_ids=sorted(set(account_ids)),
    )
    return record, key


async def find_api_key(store: ConfigStore, presented: str) -> ApiKey | None:
    """The active key record matching `presented`, or None."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    digest = hash_key(presented)
    record = await store.get_api_key_by_hash(digest)
    if record is None or not hmac.compare_digest(record.key_hash, digest):
        return None
    return None if record.revoked_at is not None else record
