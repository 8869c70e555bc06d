"""Encryption of stored secrets (mailbox and SMTP passwords, OAuth client secrets and refresh
tokens).

The Fernet key is derived from POSTROOM_SECRET_KEY with HKDF, so operators manage one secret.
Ciphertexts carry a `v1:` prefix (the derivation scheme), so a later scheme can coexist.

Key rotation: previous installation secrets go in POSTROOM_SECRET_KEYS_OLD. Decryption tries the
current key first, then each old one (MultiFernet); encryption always uses the current key.
`postroom rotate-secrets` then re-encrypts what is stored, after which the old keys can go
(docs/security.md).
"""

import base64
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from postroom_shared.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

    from postroom_shared.settings import CommonSettings

__all__ = ["SecretBox"]

_PREFIX = "v1:"
_INFO = b"postroom secretbox v1"


def _fernet(secret_key: str) -> "Fernet":
    # cryptography (about 9 MB resident) loads with the first secret a service encrypts, not
    # at start; decrypting does without it where fernet_open can (tests/unit/test_lean_imports.py)
    from cryptography.fernet import Fernet

    from postroom_shared import fernet_open

    return Fernet(base64.urlsafe_b64encode(fernet_open.derive_key(secret_key.encode(), _INFO)))


class SecretBox:
    """Encrypts short secrets with the current installation secret; decrypts with it or with
    any of the previous ones."""

    def __init__(self, secret_key: str, old_keys: Sequence[str] = ()) -> None:
        self._keys = (secret_key, *old_keys)

    @cached_property
    def _current(self) -> "Fernet":
        return _fernet(self._keys[0])

    @cached_property
    def _all(self) -> "MultiFernet":
        from cryptography.fernet import MultiFernet

        return MultiFernet([self._current, *(_fernet(key) for key in self._keys[1:])])

    @cached_property
    def _derived(self) -> tuple[bytes, ...]:
        from postroom_shared import fernet_open

        return tuple(fernet_open.derive_key(key.encode(), _INFO) for key in self._keys)

    @classmethod
    def from_settings(cls, settings: "CommonSettings") -> "SecretBox":
        """The box of a running service: POSTROOM_SECRET_KEY plus POSTROOM_SECRET_KEYS_OLD."""
        return cls(settings.secret_key.get_secret_value(), settings.old_secret_keys())

    def encrypt(self, clear: str) -> str:
        return _PREFIX + self._current.encrypt(clear.encode()).decode()

    def decrypt(self, token: str) -> str:
        body = self._body(token)
        from postroom_shared import fernet_open  # ctypes, with the first secret

        if fernet_open.available():
            # the fetcher and the replier only ever decrypt: without loading cryptography
            for key in self._derived:  # the current key first, then the old ones (MultiFernet)
                try:
                    return fernet_open.open_token(key, body).decode()
                except fernet_open.InvalidToken:
                    continue
            raise self._undecryptable()
        from cryptography.fernet import InvalidToken

        try:
            return self._all.decrypt(body).decode()
        except InvalidToken as exc:
            raise self._undecryptable() from exc

    @staticmethod
    def _undecryptable() -> ConfigError:
        return ConfigError(
            "stored secret cannot be decrypted: POSTROOM_SECRET_KEY changed? (previous keys"
            " belong in POSTROOM_SECRET_KEYS_OLD)"
        )

    def is_current(self, token: str) -> bool:
        """Whether `token` is already encrypted with the current key (rotation skips it)."""
        from cryptography.fernet import InvalidToken

        try:
            self._current.decrypt(self._body(token))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """`token` re-encrypted with the current key (unchanged when it already is)."""
        if self.is_current(token):
            return token
        return self.encrypt(self.decrypt(token))

    def _body(self, token: str) -> bytes:
        if not token.startswith(_PREFIX):
            raise ConfigError("stored secret has an unknown format")
        return token[len(_PREFIX) :].encode()
