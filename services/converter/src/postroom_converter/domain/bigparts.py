"""Large base64 bodies bypass the email package, so a 25 MB mail parses in bounded memory.

The `email` package turns a body into text lines, joins them, and decodes them again: a
near-25 MB attachment cost ~8x its size at peak. Before parsing, every base64 body larger than
`HOLLOW_THRESHOLD` is replaced by a one-line placeholder; the skeleton is parsed as usual, and
an attachment whose payload is a placeholder is decoded straight from the raw bytes (one copy:
the decoded data). Only bodies that start right after their part's header block and whose
header block says `Content-Transfer-Encoding: base64` are touched, so text that merely looks
like base64 is left alone.
"""

import binascii
import re
from dataclasses import dataclass

from postroom_converter.domain.transfer import lenient_base64

__all__ = ["HOLLOW_THRESHOLD", "Hollowed", "hollow"]

HOLLOW_THRESHOLD = 512 * 1024
_B64_LINE_RE = re.compile(rb"[A-Za-z0-9+/=]{1,998}\r?\n")  # a last line may be short
_CTE_B64_RE = re.compile(rb"^content-transfer-encoding:[ \t]*base64[ \t]*\r?$", re.I | re.M)
_BLANK_LINE_RE = re.compile(rb"\n\r?\n")
_PLACEHOLDER = "POSTROOM-HOLLOWED-BODY-{}"
_PLACEHOLDER_RE = re.compile(r"^\s*POSTROOM-HOLLOWED-BODY-(\d+)\s*$")


@dataclass(frozen=True)
class Hollowed:
    """The raw mail with large base64 bodies cut out, and where they were."""

    skeleton: bytes
    spans: tuple[tuple[int, int], ...]  # (start, end) in the original raw bytes

    def data_for(self, payload: object, raw: bytes) -> bytes | None:
        """The decoded body a placeholder payload stands for, else None."""
        if not isinstance(payload, str) or len(payload) > 64:
            return None
        match = _PLACEHOLDER_RE.match(payload)
        if match is None or int(match.group(1)) >= len(self.spans):
            return None
        start, end = self.spans[int(match.group(1))]
        try:
            return binascii.a2b_base64(memoryview(raw)[start:end])
        except binascii.Error:  # a stray last character, as transfer.py reads small parts
            try:
                return lenient_base64(memoryview(raw)[start:end])
            except (binascii.Error, ValueError):
                return b""


def _body_run_end(raw: bytes, start: int) -> int:
    """End of the run of base64 lines starting at `start`."""
    pos = start
    while True:
        match = _B64_LINE_RE.match(raw, pos)
        if match is None:
            return pos
        pos = match.end()


def hollow(raw: bytes) -> Hollowed:
    if len(raw) < HOLLOW_THRESHOLD:
        return Hollowed(raw, ())
    pieces: list[bytes] = []
    spans: list[tuple[int, int]] = []
    copied = 0
    search = 0
    while True:
        blank = _BLANK_LINE_RE.search(raw, search)
        if blank is None:
            break
        header_end, body = blank.start(), blank.end()
        end = _body_run_end(raw, body)
        if end - body >= HOLLOW_THRESHOLD:
            header_start = max(raw.rfind(b"\n--", 0, header_end), raw.rfind(b"\n\n", 0, header_end))
            if _CTE_B64_RE.search(raw, max(header_start, 0), header_end + 1):
                pieces.append(raw[copied:body])
                pieces.append(_PLACEHOLDER.format(len(spans)).encode() + b"\n")
                spans.append((body, end))
                copied = end
        search = max(end, body)
    if not spans:
        return Hollowed(raw, ())
    pieces.append(raw[copied:])
    return Hollowed(b"".join(pieces), tuple(spans))
