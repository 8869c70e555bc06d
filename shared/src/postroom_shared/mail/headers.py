"""Making values safe to copy from an inbound mail into an outbound header."""

import re

__all__ = ["clean_header_value"]

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_header_value(value: str, *, max_length: int = 900) -> str:
    """No CR, LF or other control characters (header injection), whitespace folded, bounded."""
    return _CONTROL_RE.sub(" ", value).strip()[:max_length]
