"""Item tokens in subjects (`[INC-42]`) and reply-prefix stripping.

The replier writes the token; the converter reads it back. Keeping both directions here means
the format can never drift between the two services.
"""

import re

from postroom_shared.models import TOKEN_PREFIXES, ItemType

__all__ = ["find_token", "format_token", "strip_reply_prefixes", "subject_with_token"]

_PREFIX_TO_TYPE = {prefix: item_type for item_type, prefix in TOKEN_PREFIXES.items()}
_TOKEN_RE = re.compile(r"\[(INC|US|DEF)-([1-9][0-9]{0,11})\]", re.IGNORECASE)
# Reply and forward prefixes of common mail clients in many languages (docs/decisions.md,
# threading).
# Possessive whitespace: `\s*(?:\[\d+\])?\s*` alone was quadratic on a long run of spaces.
_REPLY_PREFIX_RE = re.compile(
    r"^\s*+(?:(?:re|r|aw|antw|antwort|sv|vs|ref|rif|odp|fw|fwd|wg|tr|rv|enc|doorst|"
    r"回复|回覆|答复|转发|轉寄|転送|返信)\s*+(?:\[\d+\])?+\s*+[:：]\s*+)+",
    re.IGNORECASE,
)


def format_token(item_type: ItemType, number: int) -> str:
    """`[INC-42]`: the bracketed token written into subjects."""
    return f"[{TOKEN_PREFIXES[item_type]}-{number}]"


def find_token(subject: str, item_type: ItemType) -> int | None:
    """The item number of the first token of `item_type` in `subject`, or None.

    Tokens of other item types are ignored on purpose: an account only threads onto items of
    its own type (docs/features.md F3).
    """
    for match in _TOKEN_RE.finditer(subject):
        if _PREFIX_TO_TYPE.get(match.group(1).upper()) is item_type:
            return int(match.group(2))
    return None


def strip_reply_prefixes(subject: str) -> str:
    """`Re: AW: Fwd: Printer` -> `Printer`."""
    return _REPLY_PREFIX_RE.sub("", subject).strip()


def subject_with_token(subject: str, item_type: ItemType, number: int) -> str:
    """The subject of an automatic mail about an item: token once, original subject after it."""
    token = format_token(item_type, number)
    base = strip_reply_prefixes(subject)
    if token.lower() in base.lower():
        return f"Re: {base}"
    return f"Re: {token} {base}".rstrip()
