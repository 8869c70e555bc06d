"""Encryption of stored secrets (mailbox and SMTP passwords, refresh tokens).

The Fernet key is derived from POSTROOM_SECRET_KEY with HKDF, so operators manage one secret.
Ciphertexts carry a `v1:` prefix to leave room for key rotation (decrypt with the old box,
encrypt with the new one).
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from postroom_shared.errors import ConfigError

__all__ = ["SecretBox"]

_PREFIX = "v1:"


class SecretBox:
    """Encrypts and decrypts short secrets with a key derived from the installation secret."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"postroom secretbox v1"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, clear: str) -> str:
        return _PREFIX + self._fernet.encrypt(clear.encode()).decode()

    def decrypt(self, token: str) -> str:
        if not token.startswith(_PREFIX):
            raise ConfigError("stored secret has an unknown format")
        try:
            return self._fernet.decrypt(token[len(_PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(
                "stored secret cannot be decrypted: POSTROOM_SECRET_KEY changed?"
            ) from exc
