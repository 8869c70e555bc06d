"""Caps on hostile input, checked before the `email` package sees the bytes.

Why a module of its own: the `email` package recurses once per MIME nesting level (about 980
levels exhaust the interpreter), and some of its header helpers are quadratic in the number of
`;` separators. Those limits must be enforced *before* parsing, on the raw bytes, by code that
is itself linear and non-recursive. Every refusal names the cap it hit, because the reason goes
to the quarantine where a human reads it.
"""

import re
from collections.abc import Iterator

from postroom_shared.errors import PermanentError
from postroom_shared.mail.ceiling import MAIL_BYTES_CEILING

__all__ = [
    "MAX_DEPTH",
    "MAX_HEADER_BLOCK_BYTES",
    "MAX_HEADER_VALUE_BYTES",
    "MAX_MAIL_BYTES",
    "MAX_PARAM_HEADER_CHARS",
    "MAX_PARTS",
    "MailRejected",
    "MailTooLarge",
    "check_raw",
    "check_size",
    "defuse_param_headers",
    "mime_depth",
]

#: Whole mail: the ceiling every door applies (fetcher, push, `postroom deliver`), checked again.
MAX_MAIL_BYTES = MAIL_BYTES_CEILING
#: Top-level header block (everything before the first empty line).
MAX_HEADER_BLOCK_BYTES = 1024 * 1024
#: One top-level header field, folded lines included. Real mail reaches ~210 KB (flanker's
#: long-header.eml); mimekit's stack-overflow.txt has a 135 KB To: header.
MAX_HEADER_VALUE_BYTES = 512 * 1024
#: MIME nesting (multipart and message/* levels). CPython recurses per level.
MAX_DEPTH = 100
#: Leaf and container parts together. flanker's enclosed-endless.eml, a real mail, has ~3,000.
MAX_PARTS = 4_000
#: Content-Type / Content-Disposition of any part are cut to this many characters (after
#: collapsing runs of `;`) before the `email` package parses their parameters: its parameter
#: splitter copies the rest of the string per `;`, quadratic in the value length.
MAX_PARAM_HEADER_CHARS = 8 * 1024


class MailTooLarge(PermanentError):
    """The mail is bigger than the converter will parse."""


class MailRejected(PermanentError):
    """The mail exceeds a structural cap (header size, nesting, part count); `str()` says which."""


_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
# Upper bound for the nesting depth: every level the `email` package descends into starts
# with a Content-Type of maintype multipart or message. Over-counting is harmless (we then
# scan precisely); under-counting is not, hence `\s*` (spans folds) and no anchoring on value.
_CONTAINER_CT_RE = re.compile(rb"(?im)^content-type:\s*(?:multipart|message)/")
# The `email` package's own notion of a header line (feedparser.headerRE).
_HEADER_LINE_RE = re.compile(rb"^(?:From |[\041-\071\073-\176]*:|[\t ])")
_CT_LINE_RE = re.compile(rb"(?i)^content-type:")
_PARAM_FIELD_RE = re.compile(rb"(?im)^content-(?:type|disposition):[^\n]*(?:\n[ \t][^\n]*)*")
_SEMICOLON_RUN_RE = re.compile(rb";(?:\s*;){7,}")  # 8+ in a row; shorter runs stay
_BOUNDARY_RE = re.compile(rb'(?i)boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))')


def _header_block(raw: bytes) -> bytes:
    match = _HEADER_END_RE.search(raw, 0, MAX_HEADER_BLOCK_BYTES + 4)
    if match is None:
        if len(raw) > MAX_HEADER_BLOCK_BYTES:
            raise MailRejected(
                f"header block larger than {MAX_HEADER_BLOCK_BYTES} bytes (no end of headers found)"
            )
        return raw
    return raw[: match.start()]


def _check_header_values(block: bytes) -> None:
    size = 0
    name = b""
    for line in block.splitlines():
        if line[:1] in (b" ", b"\t"):
            size += len(line)
        else:
            size, name = len(line), line.split(b":", 1)[0][:60]
        if size > MAX_HEADER_VALUE_BYTES:
            shown = name.decode("ascii", "replace")
            raise MailRejected(f"header field {shown!r} longer than {MAX_HEADER_VALUE_BYTES} bytes")


def _content_type_of(header_lines: list[bytes]) -> tuple[str, bytes | None]:
    """(type, boundary) from the header lines of one entity, as the email package reads it;
    type is '' when absent or invalid."""
    value = b""
    collecting = False
    for line in header_lines:
        if collecting and line[:1] in (b" ", b"\t"):
            value += line
            continue
        collecting = False
        if not value and _CT_LINE_RE.match(line):
            value, collecting = line.split(b":", 1)[1], True
    ctype = value.split(b";", 1)[0].strip().lower()
    full = ctype.decode("ascii", "replace") if ctype.count(b"/") == 1 else ""
    boundary = None
    if full.startswith("multipart/"):
        found = _BOUNDARY_RE.search(value[:MAX_PARAM_HEADER_CHARS])
        if found:
            boundary = (found.group(1) if found.group(1) is not None else found.group(2)).strip()
    return full, boundary


def mime_depth(raw: bytes) -> int:
    """Nesting depth of `raw`, found by a linear, non-recursive scan of its lines.

    Mirrors the `email` feed parser closely enough for a cap: an entity's headers end at the
    first empty or non-header line; a multipart pushes its boundary, a message/* pushes a
    nested entity (so does an untyped part of a multipart/digest, whose default type is
    message/rfc822); a delimiter line of any open boundary closes everything nested inside it.
    """
    stack: list[bytes | None] = []  # open containers: a boundary, or None for message/*
    digests: set[int] = set()  # stack positions that are multipart/digest
    deepest = 0
    in_header = True
    header_lines: list[bytes] = []
    for line in raw.splitlines():
        if in_header:
            if line and _HEADER_LINE_RE.match(line):
                header_lines.append(line)
                continue
            ctype, boundary = _content_type_of(header_lines)
            header_lines = []
            in_header = False
            if not ctype and stack and len(stack) - 1 in digests:
                ctype = "message/rfc822"
            digests.discard(len(stack))
            if ctype.startswith("multipart/") and boundary:
                if ctype == "multipart/digest":
                    digests.add(len(stack))
                stack.append(boundary)
            elif ctype.startswith("message/"):
                stack.append(None)
                in_header = True
            deepest = max(deepest, len(stack))
            if in_header or not line:
                continue  # the empty separator line, or the nested message's first header
        if line.startswith(b"--"):
            stripped = line.rstrip(b" \t")
            for index in range(len(stack) - 1, -1, -1):
                boundary = stack[index]
                if boundary is None or not stripped.startswith(b"--" + boundary):
                    continue
                rest = stripped[len(boundary) + 2 :]
                if rest not in (b"", b"--"):
                    continue
                del stack[index + 1 :]
                if rest == b"--":
                    stack.pop()
                else:
                    in_header = True
                break
    return deepest + 1


def check_size(raw: bytes) -> None:
    """Raise `MailTooLarge` when `raw` is over the size cap."""
    if len(raw) > MAX_MAIL_BYTES:
        raise MailTooLarge(f"mail is {len(raw)} bytes, the limit is {MAX_MAIL_BYTES}")


def check_raw(raw: bytes) -> None:
    """Raise `MailTooLarge` / `MailRejected` when `raw` is over a cap; cheap for normal mail."""
    check_size(raw)
    _check_header_values(_header_block(raw))
    # x2: an untyped part of a multipart/digest is a message/rfc822 level of its own. Lines
    # that start "Content-Type:" bound the pattern's matches from above and are counted without
    # a pattern (the pattern's scan of every byte costs ~50 µs for a mail of 10 KB).
    if (
        2 * _content_type_lines(raw) + 1 > MAX_DEPTH
        and 2 * len(_CONTAINER_CT_RE.findall(raw)) + 1 > MAX_DEPTH
    ):
        depth = mime_depth(raw)
        if depth > MAX_DEPTH:
            raise MailRejected(f"MIME nesting depth {depth} exceeds {MAX_DEPTH}")


def _content_type_lines(raw: bytes) -> int:
    """Lines that start "Content-Type:" in any case: at least as many as `_CONTAINER_CT_RE`
    matches (a bytes pattern's IGNORECASE folds ASCII letters, as `bytes.lower` does)."""
    lowered = raw.lower()
    return lowered.count(b"\ncontent-type:") + lowered.startswith(b"content-type:")


def _line_starts(lowered: bytes, prefix: bytes) -> Iterator[int]:
    """Where a line of `lowered` starts with `prefix` (where `^` of a MULTILINE pattern holds)."""
    if lowered.startswith(prefix):
        yield 0
    found = lowered.find(b"\n" + prefix)
    while found >= 0:
        yield found + 1
        found = lowered.find(b"\n" + prefix, found + 1)


def _param_fields(raw: bytes) -> Iterator[re.Match[bytes]]:
    """`_PARAM_FIELD_RE.finditer(raw)`, tried only where a line starts with "content-" (found
    without a pattern: the pattern's scan of every byte is what costs, not its few matches).
    No match holds such a line start but its own: its other lines start with a space or tab."""
    for at in _line_starts(raw.lower(), b"content-"):
        match = _PARAM_FIELD_RE.match(raw, at)  # `^` (MULTILINE) holds: `at` starts a line
        if match:
            yield match


def defuse_param_headers(raw: bytes) -> tuple[bytes, list[str]]:
    """`raw` with every Content-Type/-Disposition field (of any part) made cheap to parse.

    The `email` package reads the boundary parameter while parsing, so this must happen on
    the bytes. Runs of `;` collapse to one and fields are cut to `MAX_PARAM_HEADER_CHARS`;
    ordinary mail is returned unchanged (same object).
    """
    changes: list[tuple[int, int, bytes]] = []
    for match in _param_fields(raw):
        field = match.group()
        if len(field) <= MAX_PARAM_HEADER_CHARS and not _SEMICOLON_RUN_RE.search(field):
            continue
        fixed = _SEMICOLON_RUN_RE.sub(b";", field)[:MAX_PARAM_HEADER_CHARS].rstrip(b"\r\n")
        if fixed != field:
            changes.append((match.start(), match.end(), fixed))
    if not changes:
        return raw, []
    out, last = [], 0
    for start, end, fixed in changes:
        out += [raw[last:start], fixed]
        last = end
    out.append(raw[last:])
    name = "content-type/disposition"
    return b"".join(out), [f"{len(changes)} {name} field(s) collapsed or cut (runs of ';', length)"]
