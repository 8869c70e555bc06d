"""Turning bytes in whatever charset a mail claims (or does not claim) into text, never failing.

Why a module of its own: real mail declares charsets Python does not know (`iso-gb2312`,
`ks_c_5601-1987`, `x-unknown`), lies about them, or sends raw 8-bit headers. Decoding follows
one chain everywhere (bodies, RFC 2047 encoded-words, RFC 2231 parameters, raw headers):
declared charset (through an alias table) → UTF-8 → cp1252 → cp1252 with replacement.
Raw 8-bit header bytes, which declare nothing, go through `charset_guess.decode_header_bytes`
with the charsets the mail declares elsewhere as hints.
"""

import base64
import binascii
import codecs
import contextlib
import re
from functools import lru_cache

from postroom_converter.domain.charset_guess import decode_header_bytes

__all__ = ["decode_bytes", "decode_header", "normalise_charset", "raw_header_text", "to_bytes"]

# Names seen in real mail mapped to a Python codec (a superset where one exists).
_ALIASES = {
    "iso-gb2312": "gb18030",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf7": "utf-7",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-2022-jp-1": "iso2022_jp_1",
    "iso-2022-jp-2": "iso2022_jp_2",
    "iso-2022-jp-3": "iso2022_jp_3",
    "iso-2022-jp-ms": "iso2022_jp_ext",
    "cp50220": "iso2022_jp_ext",
    "cp50221": "iso2022_jp_ext",
    "cp50222": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "euc-jp": "euc_jis_2004",
    "x-euc-jp": "euc_jis_2004",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ansi_x3.4-1968": "ascii",
    "us-ascii": "cp1252",  # 8-bit in "ASCII" mail is nearly always cp1252 or UTF-8 (UTF-8 first)
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",  # what senders mean when they say latin-1 (WHATWG does the same)
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "x-user-defined": "cp1252",
}
_UNKNOWN = frozenset(
    {"", "x-unknown", "unknown", "unknown-8bit", "x-unknown-8bit", "default", "8bit", "charset"}
)

# The charset may be missing (`=??Q?...?=`: decoded as undeclared text) and the payload may
# hold literal blanks (`=?us-ascii?Q?ABC / 123?=`): against RFC 2047, but some
# mailers write them and mail clients read them. Never across a line, never past 500 chars.
_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]{0,75})\?([bBqQ])\?([^?\r\n]{0,500})\?=")
_BETWEEN_WORDS_RE = re.compile(r"^[ \t\r\n]*$")
_QP_HEX_RE = re.compile(rb"=([0-9A-Fa-f]{2})")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")


@lru_cache(maxsize=512)
def normalise_charset(declared: str | None) -> str | None:
    """The Python text codec for a declared charset, or None when it is unknown/unusable."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    if name in _UNKNOWN:
        return None
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):  # base64_codec, zlib_codec, rot13 ...
        return None
    return info.name


_ISO2022_ESC_RE = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJI]|\$\(Q|\$\(O)")


def _iso2022jp_via_cp932(data: bytes) -> str:
    """Microsoft's ISO-2022-JP (CP50220/50221): JIS X 0208 plus NEC/IBM extensions (①, 髙…)
    that no Python codec decodes. Re-encode the JIS pairs as Shift_JIS and decode as cp932."""
    out = bytearray()
    mode = b"(B"
    pos = 0
    for match in [*_ISO2022_ESC_RE.finditer(data), None]:
        end = match.start() if match else len(data)
        chunk = data[pos:end].replace(b"\x0e", b"").replace(b"\x0f", b"")
        if mode.startswith(b"$"):
            for i in range(0, len(chunk) - 1, 2):
                j1, j2 = chunk[i], chunk[i + 1]
                if j1 in (0x0A, 0x0D):  # a line break inside a two-byte run
                    out.append(j1)
                    continue
                s1 = (j1 + 1) // 2 + (0x70 if j1 < 0x5F else 0xB0)
                s2 = j2 + (0x1F + (j2 >= 0x60) if j1 % 2 else 0x7E)
                out += bytes((s1 & 0xFF, s2 & 0xFF))
        elif mode == b"(I":
            out += bytes((b | 0x80) for b in chunk)
        else:
            out += chunk
        if match:
            mode, pos = match.group(1), match.end()
    return out.decode("cp932")


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, bool]:
    """(text, clean): `clean` is False when the declared charset did not fit and we fell back."""
    codec = normalise_charset(declared)
    if codec is not None:
        # UnicodeDecodeError, or a codec bug on hostile bytes: fall back
        with contextlib.suppress(Exception):
            return data.decode(codec), True
        if codec.startswith("iso2022_jp"):
            with contextlib.suppress(Exception):
                return _iso2022jp_via_cp932(data), True
    nothing_declared = codec is None and not (declared or "").strip()
    try:
        return data.decode("utf-8"), nothing_declared or data.isascii()
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), False
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace"), False


def to_bytes(value: str) -> bytes:
    """Text from a bytes parse back to bytes: 8-bit bytes were kept as surrogates; anything
    the `email` package already replaced (U+FFFD) is encoded as UTF-8."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate outside the escape range
        return value.encode("utf-8", "replace")


def raw_header_text(value: str, hints: tuple[str, ...] = ()) -> str:
    """A header value as stored by a compat32 parse of bytes (8-bit bytes as surrogates) → text;
    `hints` are the charsets (Python codec names) the mail declares elsewhere."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return decode_header_bytes(to_bytes(value), hints)
    if "\x1b" in value:  # raw 7-bit ISO-2022-JP
        return decode_header_bytes(value.encode("utf-8"), hints)
    return value


def _decode_word(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", "replace")
    data = payload.replace("_", " ").encode("ascii", "replace")
    return _QP_HEX_RE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_header(value: str, hints: tuple[str, ...] = ()) -> str:
    """Unfold and decode a header value: raw 8-bit (see `raw_header_text`) and RFC 2047
    encoded-words (also malformed ones: inside words, unknown charsets, words split in the
    middle of a multi-byte char, literal blanks in the payload)."""
    value = _FOLD_RE.sub("", raw_header_text(value, hints))
    if "=?" not in value:
        return value
    out: list[str] = []
    pending = bytearray()  # adjacent words of one charset (not bytes: += would be quadratic)
    pending_charset: str | None = None
    last_end = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(decode_bytes(bytes(pending), pending_charset)[0])
        pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD_RE.finditer(value):
        between = value[last_end : match.start()]
        if between and not (pending and _BETWEEN_WORDS_RE.match(between)):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        if pending and charset != pending_charset:
            flush()
        pending_charset = charset
        pending += _decode_word(match.group(2), match.group(3))
        last_end = match.end()
    flush()
    out.append(value[last_end:])
    return "".join(out)
