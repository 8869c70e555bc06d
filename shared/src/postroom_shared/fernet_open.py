"""Opening a Fernet token (`secretbox`) with what the interpreter has already loaded, so that a
service which only reads stored secrets never loads `cryptography` (about 9 MB resident: its
bundled OpenSSL, most of what separated the fetcher with an active account from 60 MB idle).

This is the Fernet specification's decryption, not a cipher of our own: HMAC-SHA256 and HKDF
come from the standard library (`hmac`, `hashlib`), AES-128-CBC with PKCS#7 unpadding from the
OpenSSL that Python's own `_hashlib`/`_ssl` are linked against (EVP, through ctypes: the
library is already mapped, so this adds about 0.3 MB). The HMAC is checked, in constant time,
before a byte is decrypted, as `cryptography.fernet` does. Where that OpenSSL cannot be reached
(a Python linked statically, symbols hidden), `available()` says so and `SecretBox` uses
`cryptography` as before; encrypting always uses `cryptography`. tests/unit/test_fernet_open.py
checks this path against `cryptography.fernet` token for token.
"""

import base64
import binascii
import ctypes
import hmac
from functools import cache

__all__ = ["InvalidToken", "available", "derive_key", "open_token"]

_HEADER = 1 + 8 + 16  # version byte, timestamp, IV
_MAC = 32


class InvalidToken(Exception):
    """The token is malformed, was not made with this key, or was altered."""


class _OpenSSL:
    """The few EVP calls AES-128-CBC decryption needs, typed for ctypes."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.cipher = lib.EVP_aes_128_cbc
        self.cipher.restype = ctypes.c_void_p
        self.cipher.argtypes = []
        self.new = lib.EVP_CIPHER_CTX_new
        self.new.restype = ctypes.c_void_p
        self.new.argtypes = []
        self.free = lib.EVP_CIPHER_CTX_free
        self.free.restype = None
        self.free.argtypes = [ctypes.c_void_p]
        self.init = lib.EVP_DecryptInit_ex
        self.init.restype = ctypes.c_int
        self.init.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_char_p] * 2
        self.update = lib.EVP_DecryptUpdate
        self.update.restype = ctypes.c_int
        self.update.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self.final = lib.EVP_DecryptFinal_ex
        self.final.restype = ctypes.c_int
        self.final.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]

    def aes_128_cbc_decrypt(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        """`data` decrypted and its PKCS#7 padding removed; InvalidToken when either fails."""
        ctx = self.new()
        if not ctx:
            raise MemoryError("EVP_CIPHER_CTX_new failed")
        try:
            out = ctypes.create_string_buffer(len(data) + 16)
            done, tail = ctypes.c_int(0), ctypes.c_int(0)
            if not self.init(ctx, self.cipher(), None, key, iv):
                raise InvalidToken
            if not self.update(ctx, out, ctypes.byref(done), data, len(data)):
                raise InvalidToken
            # the padding is checked here: a wrong length or padding is refused, as by Fernet
            last = ctypes.create_string_buffer(16)
            if not self.final(ctx, last, ctypes.byref(tail)):
                raise InvalidToken
            return out.raw[: done.value] + last.raw[: tail.value]
        finally:
            self.free(ctx)


@cache
def _openssl() -> _OpenSSL | None:
    try:
        import _hashlib  # the interpreter's own OpenSSL binding: its libcrypto is loaded

        return _OpenSSL(ctypes.CDLL(_hashlib.__file__))
    except (ImportError, OSError, AttributeError):
        return None


def available() -> bool:
    """Whether tokens can be opened here without `cryptography`."""
    return _openssl() is not None


def derive_key(secret: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) without salt, 32 bytes: the Fernet key `secretbox` derives."""
    prk = hmac.digest(b"\0" * 32, secret, "sha256")  # no salt: as many zeros as SHA-256 gives
    return hmac.digest(prk, info + b"\x01", "sha256")


def open_token(key: bytes, token: bytes) -> bytes:
    """The plaintext of Fernet `token` (urlsafe base64) made with the 32-byte `key`, no age
    limit; InvalidToken otherwise. Call only when `available()`."""
    lib = _openssl()
    if lib is None:
        raise RuntimeError("OpenSSL is not reachable: check fernet_open.available() first")
    try:
        data = base64.urlsafe_b64decode(token)
    except (TypeError, binascii.Error) as exc:
        raise InvalidToken from exc
    if len(data) < _HEADER + _MAC or data[0] != 0x80:
        raise InvalidToken
    signing, encryption = key[:16], key[16:]
    expected = hmac.digest(signing, data[:-_MAC], "sha256")
    if not hmac.compare_digest(expected, data[-_MAC:]):
        raise InvalidToken
    return lib.aes_128_cbc_decrypt(encryption, data[9:_HEADER], data[_HEADER:-_MAC])
