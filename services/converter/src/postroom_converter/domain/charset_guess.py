"""Which charset raw 8-bit header bytes are in, when the header itself does not say.

Why a module of its own: RFC 5322 headers are ASCII, yet Chinese, Japanese and Korean mailers
(and some gateways) still write subjects, names and file names as raw GB2312, Big5, Shift_JIS,
EUC-JP, EUC-KR or 7-bit ISO-2022-JP. Decoding those as cp1252 gives mojibake. The order, as
mail clients do it (docs/decisions.md, "Parsing fidelity"): UTF-8 when the bytes are valid
UTF-8 (or nearly: a name cut inside a character); else the charsets the mail declares
elsewhere (its parts' `charset` parameters, the charsets of its encoded words), in the order
they appear; else a guess among the legacy CJK charsets; else cp1252.

The guess is ours, not a general detector's: subjects are a few dozen bytes, too short for
statistical detection (charset-normalizer 3.5 reads 3 of 8 short CJK subjects wrong, EUC-JP
and Big5 as Korean, and a cp1252 "à" as cp1250). Instead each CJK codec that decodes the
bytes strictly is scored on what its text would be: ideographs by where they sit in the
region's national charset (level 1 holds the everyday ones), kana only for Japanese, Hangul
syllables only for Korean (which also writes spaces between words); jamo, half-width katakana,
Greek, Cyrillic, box drawing or private-use characters from a double-byte codec are signs of
the wrong codec. A text that is not mostly everyday characters is no guess (cp1252 then).
Short kanji-only Japanese and short Big5 can still read as GB2312: state it, and the mail's
declared charsets decide first.
"""

import re
from functools import lru_cache

__all__ = ["decode_header_bytes", "guess_cjk"]

_ISO2022_ESCAPE = re.compile(rb"\x1b\$[@B]")
# (codec, region): tried in this order; a tie goes to the earlier one.
_CANDIDATES = (
    ("gb18030", "zh-hans"),
    ("cp932", "ja"),
    ("euc_jis_2004", "ja"),
    ("big5hkscs", "zh-hant"),
    ("cp949", "ko"),
)
# Where a region's everyday characters sit in its national charset: (codec, first level,
# second level), as ranges of the two-byte code. Level 1 holds the common characters (GB2312's
# 3,755 hanzi, Big5's 5,401, JIS X 0208's 2,965 kanji); a wrong codec lands anywhere.
_LEVELS = {
    "zh-hans": ("gb2312", (0xB0A1, 0xD7FE), (0xD8A1, 0xF7FE)),
    "zh-hant": ("big5", (0xA440, 0xC67E), (0xC940, 0xF9D5)),
    "ja": ("euc_jp", (0xB0A1, 0xCFFE), (0xD0A1, 0xF4FE)),
}


@lru_cache(maxsize=8192)
def _ideograph_score(char: str, region: str) -> int:
    if region not in _LEVELS:
        return -1  # hanja: rare in modern Korean text
    codec, first, second = _LEVELS[region]
    try:
        code = int.from_bytes(char.encode(codec))
    except UnicodeEncodeError:
        return -1
    if first[0] <= code <= first[1]:
        return 2
    if second[0] <= code <= second[1]:
        return 1
    # GBK's traditional characters: common in Big5, so plausible in a GBK subject
    return 1 if region == "zh-hans" and _ideograph_score(char, "zh-hant") == 2 else -1


def _char_score(char: str, region: str) -> int:
    code = ord(char)
    if code < 0x80:
        return 0
    if 0x4E00 <= code <= 0x9FFF:
        return _ideograph_score(char, region)
    if 0x3040 <= code <= 0x30FF:  # hiragana, katakana
        return 2 if region == "ja" else -2
    if 0xAC00 <= code <= 0xD7A3:  # Hangul syllables
        return 2 if region == "ko" and _in_ks_x_1001(char) else -2
    if 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E:  # CJK punctuation, full-width
        return 1
    return -2  # jamo, half-width kana, Greek, Cyrillic, symbols, private use: a wrong codec


@lru_cache(maxsize=4096)
def _in_ks_x_1001(char: str) -> bool:
    """One of the 2,350 everyday Hangul syllables (the rest are in cp949's extension only)."""
    try:
        char.encode("euc_kr")
    except UnicodeEncodeError:
        return False
    return True


_WORD_SPACE_RE = re.compile(r"[^\x00-\x7f] +[^\x00-\x7f]")


def guess_cjk(data: bytes) -> str | None:
    """The text of `data` in the legacy CJK codec it most plausibly is, or None."""
    best: tuple[int, str] | None = None
    for codec, region in _CANDIDATES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        wide = [char for char in text if not char.isascii()]
        score = sum(_char_score(char, region) for char in wide)
        if region == "ko":  # Korean writes spaces between words; Chinese and Japanese do not
            score += len(_WORD_SPACE_RE.findall(text))
        # mostly common characters: one rare character in Latin text is a wrong codec
        if score * 2 >= 3 * len(wide) and (best is None or score > best[0]):
            best = (score, text)
    return best[1] if best else None


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few broken bytes (a name cut inside a character by a length limit), as
    UTF-8 with U+FFFD for them; None when the valid sequences are few (a legacy charset)."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if not char.isascii()) - bad
    return text if good >= 2 and good >= 3 * bad else None


def decode_header_bytes(data: bytes, hints: tuple[str, ...]) -> str:
    """Raw header bytes → text: UTF-8 (also with a few broken bytes), the mail's declared
    charsets `hints` (Python codec names), a CJK guess, cp1252. Never raises."""
    if data.isascii():
        if _ISO2022_ESCAPE.search(data):
            try:
                return data.decode("iso2022_jp_ext")
            except UnicodeDecodeError:
                pass
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(data)
    if mostly is not None:
        return mostly
    for codec in hints:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    guessed = guess_cjk(data)
    if guessed is not None:
        return guessed
    return data.decode("cp1252", "replace")
