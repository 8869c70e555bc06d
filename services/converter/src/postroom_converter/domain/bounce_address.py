"""Which address a bounce is about, when the report names it in more than one way.

A delivery status report (RFC 3464) names each recipient twice at most: `Original-Recipient` is
the address as the sender gave it (the customer's address Postroom wrote to), `Final-Recipient`
the one the reporting MTA tried last, after aliases and forwarding (`kim@mailhost.example.org`
for `kim@example.org`), and each has a type: `rfc822` for an Internet address, or `x400` and
others for gateways (Exchange writes SMTP addresses into X.400 ones as `dda:SMTP=addr`). A hard
bounce marks the address so the replier holds back mail to it (docs/features.md F10, F11); the
mark only helps on the address Postroom sends to, so the original one wins. Kept apart from
`bounce.py` so the rule is one small pure function with its own tests.
"""

import re

__all__ = ["DDA_SMTP_RE", "dsn_address"]

# Exchange's SMTP address inside an X.400 O/R address or a text report: `dda:SMTP=kim@example.org`.
# Neither side of the @ can hold the other's delimiters, so the match is linear.
DDA_SMTP_RE = re.compile(
    r"\bdda:smtp=([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)++)",
    re.IGNORECASE,
)
_SOURCE_ROUTE_RE = re.compile(r"^@[^:]{0,255}:")  # "@relay.example:kim@example.org" (RFC 821)


def _typed(value: str) -> tuple[str, str]:
    """("rfc822", "kim@example.org") for "rfc822; <kim@example.org>"; an untyped value (some
    MTAs write a bare address) counts as rfc822."""
    kind, sep, rest = value.partition(";")
    if not sep:
        return "rfc822", value.strip()
    return kind.strip().lower(), rest.strip()


def _rfc822(value: str) -> str:
    address = _SOURCE_ROUTE_RE.sub("", value.strip().strip("<>").strip())
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return ""
    return f"{local.strip(chr(34))}@{domain}".lower()  # '"kim..x"@host': the quotes are syntax


def dsn_address(final: str, original: str) -> str:
    """The address one DSN recipient group is about, "" when it names none.

    Rule: an rfc822 `Original-Recipient` first (what the sender wrote: after forwarding, the
    final address is one Postroom never wrote to, and marking it would leave the customer's
    address unmarked), then an rfc822 `Final-Recipient`, then an SMTP address inside a non-rfc822
    one (X.400 `dda:SMTP=`), and last the final value as written when it is one word (an MTA's
    local name; blanks mean prose, not an address)."""
    typed = [_typed(value) for value in (original, final) if value.strip()]
    for kind, value in typed:
        if kind == "rfc822" and (address := _rfc822(value)):
            return address
    for _, value in typed:
        if dda := DDA_SMTP_RE.search(value):
            return dda.group(1).lower()
    written = _typed(final)[1].strip("<>").lower()
    return written if written and not any(c.isspace() for c in written) else ""
