"""Recovering a mail's header block when a broken mailer or a copy-paste damaged it.

Why a module of its own: the `email` package ends the headers at the first line that is not a
header (`---- Original email message ----` above them, a subject wrapped without indenting),
and everything after it, From, Subject and Content-Type included, becomes body text. Mail
clients read such mail as intended; Postroom does the same (docs/decisions.md, "Parsing
fidelity"), before the parse, on the raw bytes of the top-level header block only:
- junk lines before the first header (at most `MAX_JUNK_LINES`) are dropped;
- a line that is no header, between two headers, continues the header above it (indented);
- white space between a header's name and its colon (RFC 5322's obsolete syntax) goes.
Only a line that a well-known header follows counts: a mail whose body follows its headers
without the blank line keeps that body a body, and text without headers stays text.
"""

import re

__all__ = ["MAX_JUNK_LINES", "repair_header_block"]

MAX_JUNK_LINES = 5
_HEADER_BLOCK_CAP = 256 * 1024  # past that limits.py refuses the mail anyway
_BLOCK_END_RE = re.compile(rb"\n\r?\n")
# A line the email package would not take for a header line or a continuation.
_BAD_LINE_RE = re.compile(rb"^(?![\x21-\x39\x3b-\x7e]+:|[ \t]|\r?$)", re.M)
_NAME_RE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_SPACED_COLON_RE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]+:")
_KNOWN = frozenset(
    b"from to cc bcc subject date message-id in-reply-to references reply-to sender "
    b"return-path received mime-version content-type content-transfer-encoding "
    b"content-disposition delivered-to importance priority organization user-agent".split()
)
_KNOWN_PREFIXES = (b"x-", b"content-", b"list-", b"resent-", b"dkim-", b"arc-", b"authentication-")


def _header_name(line: bytes) -> bytes | None:
    match = _NAME_RE.match(line)
    return match.group(1).lower() if match else None


def _known(line: bytes) -> bool:
    name = _header_name(line)
    return name is not None and (name in _KNOWN or name.startswith(_KNOWN_PREFIXES))


def _note(defects: list[str], what: str) -> None:
    if what not in defects:
        defects.append(what)


def repair_header_block(raw: bytes) -> tuple[bytes, list[str]]:
    """`raw` with its header block recovered (see the module doc), and what was done."""
    end_match = _BLOCK_END_RE.search(raw, 0, _HEADER_BLOCK_CAP)
    end = end_match.start() + 1 if end_match else min(len(raw), _HEADER_BLOCK_CAP)
    start = raw.find(b"\n") + 1 if raw.startswith(b"From ") else 0  # an mbox From_ line
    if start >= end or _BAD_LINE_RE.search(raw, start, end) is None:
        return raw, []
    lines = raw[start:end].splitlines(keepends=True)
    known = [i for i, line in enumerate(lines) if _known(line)]
    if not known:
        return raw, []
    defects: list[str] = []
    first = known[0]
    if first and (first > MAX_JUNK_LINES or any(_header_name(x) for x in lines[:first])):
        return raw, []  # headers first after all, or too much text: not a damaged block
    if first:
        defects.append("junk line before the headers dropped")
    last = known[-1]
    repaired = []
    for i in range(first, len(lines)):
        line = lines[i]
        if i < last and _header_name(line) is None and line[:1] not in b" \t":
            line = b" " + line
            _note(defects, "unindented header continuation joined")
        elif spaced := _SPACED_COLON_RE.match(line):
            line = spaced.group(1) + b":" + line[spaced.end() :]
            _note(defects, "white space before a header colon removed")
        repaired.append(line)
    if not defects:
        return raw, []
    return raw[:start] + b"".join(repaired) + raw[end:], defects
