"""Message-IDs that Postroom can recognise as its own.

Every mail Postroom sends gets `<pr.{item_id}.{nonce}.{sig}@{domain}>` where `sig` is an HMAC of
item id and nonce under the installation secret. A reply that references such an id threads onto
the item with certainty (docs/decisions.md, threading rule 1), and mail carrying one of our ids as
its own Message-ID is our own mail coming back (loop safety).
"""

import base64
import hashlib
import hmac
import re

__all__ = ["MessageIdSigner"]

_OURS_RE = re.compile(r"^<?pr\.([A-Za-z0-9_]{1,64})\.([a-z0-9]{1,40})\.([a-z2-7]{16})@[^>\s]+>?$")


class MessageIdSigner:
    """Makes and verifies signed Message-IDs."""

    def __init__(self, secret_key: str, domain: str) -> None:
        self._key = hashlib.sha256(b"postroom msgid v1\x00" + secret_key.encode()).digest()
        self._domain = domain

    @classmethod
    def checking(cls, secret_key: str) -> "MessageIdSigner":
        """A signer that only verifies ids (the converter's): it never makes one, so it needs
        no domain."""
        return cls(secret_key, "")

    def _sig(self, item_id: str, nonce: str) -> str:
        mac = hmac.new(self._key, f"{item_id}.{nonce}".encode(), hashlib.sha256).digest()
        return base64.b32encode(mac[:10]).decode().lower()

    def __eq__(self, other: object) -> bool:  # equal keys sign alike (shared worker pools)
        return isinstance(other, MessageIdSigner) and (self._key, self._domain) == (
            other._key,
            other._domain,
        )

    def __hash__(self) -> int:
        return hash((self._key, self._domain))

    def make(self, item_id: str, nonce: str, *, domain: str | None = None) -> str:
        """A Message-ID for a mail about `item_id`; `nonce` makes it unique per mail."""
        return f"<pr.{item_id}.{nonce}.{self._sig(item_id, nonce)}@{domain or self._domain}>"

    def verify(self, message_id: str) -> str | None:
        """The item id inside `message_id` when it is one of ours with a valid signature."""
        match = _OURS_RE.match(message_id.strip())
        if match is None:
            return None
        item_id, nonce, sig = match.groups()
        return item_id if hmac.compare_digest(sig, self._sig(item_id, nonce)) else None
