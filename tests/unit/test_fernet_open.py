"""fernet_open opens exactly the tokens `cryptography.fernet` opens, and refuses the rest: it is
the Fernet specification's decryption over the stdlib's HMAC and the interpreter's OpenSSL, so
every answer is checked against the reference implementation."""

import base64
import hmac
import os

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from postroom_shared import fernet_open
from postroom_shared.errors import ConfigError
from postroom_shared.secretbox import SecretBox

pytestmark = pytest.mark.skipif(
    not fernet_open.available(), reason="this interpreter's OpenSSL is not reachable"
)

KEY = os.urandom(32)


def _reference(key: bytes, token: bytes) -> bytes | None:
    try:
        return Fernet(base64.urlsafe_b64encode(key)).decrypt(token)
    except InvalidToken:
        return None


def _ours(key: bytes, token: bytes) -> bytes | None:
    try:
        return fernet_open.open_token(key, token)
    except fernet_open.InvalidToken:
        return None


def test_the_key_derivation_is_hkdf_sha256_without_salt() -> None:
    for secret in (b"s" * 40, os.urandom(7), "pässwörd".encode()):
        reference = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"i").derive(secret)
        assert fernet_open.derive_key(secret, b"i") == reference


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32, 33, 100, 4096])
def test_every_plaintext_length_opens_as_the_reference_opens_it(size: int) -> None:
    clear = os.urandom(size)
    token = Fernet(base64.urlsafe_b64encode(KEY)).encrypt(clear)
    assert fernet_open.open_token(KEY, token) == clear == _reference(KEY, token)


def test_a_token_of_another_key_is_refused() -> None:
    token = Fernet(Fernet.generate_key()).encrypt(b"secret")
    with pytest.raises(fernet_open.InvalidToken):
        fernet_open.open_token(KEY, token)


def test_any_altered_byte_is_refused_as_the_reference_refuses_it() -> None:
    raw = base64.urlsafe_b64decode(Fernet(base64.urlsafe_b64encode(KEY)).encrypt(b"x" * 20))
    for at in range(len(raw)):
        altered = base64.urlsafe_b64encode(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :])
        assert _ours(KEY, altered) is None, at
        assert _reference(KEY, altered) is None, at


def test_malformed_tokens_are_refused_as_the_reference_refuses_them() -> None:
    good = Fernet(base64.urlsafe_b64encode(KEY)).encrypt(b"x")
    raw = base64.urlsafe_b64decode(good)
    signing, encryption = KEY[:16], KEY[16:]

    def signed(body: bytes) -> bytes:
        return base64.urlsafe_b64encode(body + hmac.digest(signing, body, "sha256"))

    cases = [
        b"",
        b"not base64 at all !",
        b"gAAAAA",
        good[:-4],  # cut
        base64.urlsafe_b64encode(b"\x81" + raw[1:]),  # other version
        signed(raw[:25]),  # signed, but no ciphertext
        signed(raw[:25] + raw[25:-32][:-1]),  # signed, ciphertext not whole blocks
    ]
    # signed (by someone holding the key), but the padding is wrong
    for last in (b"\x00", b"\x11", b"\x02"):  # 0, more than a block, 2 over a 1
        enc = Cipher(algorithms.AES(encryption), modes.CBC(raw[9:25])).encryptor()
        cases.append(signed(raw[:25] + enc.update(b"a" * 15 + last) + enc.finalize()))
    for case in cases:
        assert _ours(KEY, case) is None, case
        assert _reference(KEY, case) is None, case


def test_the_secret_box_decrypts_without_cryptography_as_multifernet_does() -> None:
    box = SecretBox("k" * 32, ["o" * 32, "p" * 32])
    for maker in ("k" * 32, "o" * 32, "p" * 32):
        token = SecretBox(maker).encrypt("pässword")
        assert box.decrypt(token) == "pässword"
        old = MultiFernet([box._current, *(SecretBox(k)._current for k in ("o" * 32, "p" * 32))])
        assert old.decrypt(token[3:].encode()).decode() == "pässword"
    with pytest.raises(ConfigError, match="POSTROOM_SECRET_KEYS_OLD"):
        box.decrypt(SecretBox("z" * 32).encrypt("pw"))
