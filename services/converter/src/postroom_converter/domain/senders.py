"""Addresses of a mail's address headers, and who sent it when its From is no use.

Why a module of its own: real From headers are missing, carry a name and no address (`"Jane"
<>`, `MAILER-DAEMON (Mail Delivery System)`), or put a bare address after a name without angle
brackets (`Test test@example.com`). Mail clients still show a sender; so does Postroom
(docs/decisions.md, "Parsing fidelity"): the address comes from the first of From, Sender,
Reply-To and Return-Path that has one, the name from From when it has one.
"""

import email.utils
import re
from dataclasses import dataclass

from postroom_converter.domain.charsets import decode_header, raw_header_text

__all__ = ["Address", "addresses", "sender_of"]

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WS_RE = re.compile(r"\s+")
_MAX_ADDRESS_HEADER = 64 * 1024  # per address header: more is no real recipient list
# One list entry that is words then a bare address, no brackets, quotes or comments:
# `Test test@example.com` means the name Test, not the address "Test test"@example.com.
_BARE_RE = re.compile(
    r'(^|,)([^,<>"()@]*[^\s,<>"()@])[ \t]+([^\s,<>"()@]+@[^\s,<>"()@]+)[ \t]*(?=,|$)'
)
_FALLBACKS = ("sender", "reply-to", "return-path")


@dataclass(frozen=True)
class Address:
    address: str
    name: str = ""


def _text(value: str) -> str:
    return _WS_RE.sub(" ", _CONTROL_RE.sub("", value)).strip()


def _pairs(values: tuple[str, ...], hints: tuple[str, ...]) -> list[tuple[str, str]]:
    if not values:  # a header the mail does not have (Cc, Reply-To): no need to parse nothing
        return []  # (twice: strict, then lenient, ~15 µs each)
    cleaned = [_WS_RE.sub(" ", raw_header_text(v, hints)[:_MAX_ADDRESS_HEADER]) for v in values]
    cleaned = [_BARE_RE.sub(r"\1\2 <\3>", v) if "@" in v else v for v in cleaned]
    try:
        pairs = email.utils.getaddresses(cleaned)
        if not any("@" in addr for _, addr in pairs):
            # strict mode drops the whole header for one flaw (even a trailing comma)
            pairs = email.utils.getaddresses(cleaned, strict=False)
    except Exception:  # the address parser on hostile input (deeply nested comments)
        return []
    return [(_unquoted(_text(decode_header(name, hints))), addr) for name, addr in pairs]


def _unquoted(name: str) -> str:
    """A name quoted inside a comment (`addr ("Name")`) keeps its quotes in the address parser."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].strip()
    return name


def addresses(values: tuple[str, ...], hints: tuple[str, ...] = ()) -> tuple[Address, ...]:
    """The usable addresses (with an @) of one address header's values, lower-cased."""
    found = []
    for name, addr in _pairs(values, hints):
        addr = _CONTROL_RE.sub("", addr).strip()
        if "@" in addr and len(addr) <= 320:
            found.append(Address(address=addr.lower(), name=name))
    return tuple(found)


def sender_of(raw_headers: dict[str, tuple[str, ...]], hints: tuple[str, ...]) -> Address | None:
    """From's first address; else the first address of Sender, Reply-To, Return-Path, named
    with From's display name when From has one."""
    from_values = raw_headers.get("from", ())
    found = addresses(from_values, hints)
    if found:
        return found[0]
    name = next((n for n, _ in _pairs(from_values, hints) if n), "") if from_values else ""
    for header in _FALLBACKS:
        fallback = addresses(raw_headers.get(header, ()), hints)
        if fallback:
            return Address(address=fallback[0].address, name=name or fallback[0].name)
    return None
