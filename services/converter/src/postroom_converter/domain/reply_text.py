"""The new part of a reply: the visible text without quoted history and signature.

Foundation version: cuts at the first quote header ("On … wrote:") or quoted block and at a
"-- " signature separator. Provider-specific separators come with the corpus work (issue 3).
"""

import re

__all__ = ["extract_reply"]

_QUOTE_HEADER_RE = re.compile(r"^\s*(On\s.+wrote:|-----\s*Original Message\s*-----)\s*$", re.I)


def extract_reply(text: str) -> str:
    """`text` up to where quoted history or the signature starts."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.rstrip() == "--" or (line.startswith("-- ") and line.strip() == "--"):
            break
        if _QUOTE_HEADER_RE.match(line) or line.startswith(">"):
            break
        kept.append(line)
    return "\n".join(kept).strip()
