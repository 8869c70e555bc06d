"""The one rule for a mail address that Postroom accepts from an admin or a client.

Why a module of its own: an accepted address later goes into From/To headers, SMTP envelopes
and person lookups. Python's `email` package does not always refuse a hostile address with a
ValueError (a `[` domain makes its header parser raise AttributeError), SMTP servers refuse
others (labels over 63 characters, non-ASCII local parts without SMTPUTF8), and a lone
surrogate cannot even be encoded. So every address is checked once, where it comes in, against
the subset that every later hop takes:

- `local@domain`, at most 254 characters in all (RFC 5321's path limit less the brackets);
- the local part: a dot-atom of ASCII `atext` (no quoted strings, no non-ASCII: Postroom sends
  without SMTPUTF8), at most 64 characters;
- the domain: a host name of letters, digits and hyphens, labels of 1-63 characters, at most
  253 in all; an internationalised domain is accepted and kept in its ASCII form (IDNA 2008,
  UTS 46 mapping: `bücher.example` becomes `xn--bcher-kva.example`); no address literals
  (`[192.0.2.1]`), no trailing dot;
- no control characters, spaces or lone surrogates anywhere.

The result is lower-cased, as addresses are compared everywhere in Postroom.
"""

import unicodedata

import idna

__all__ = [
    "MAX_ADDRESS_CHARS",
    "MAX_DOMAIN_CHARS",
    "MAX_LABEL_CHARS",
    "MAX_LOCAL_CHARS",
    "address_problem",
    "normalize_address",
]

MAX_ADDRESS_CHARS = 254
MAX_LOCAL_CHARS = 64
MAX_DOMAIN_CHARS = 253
MAX_LABEL_CHARS = 63

_ATEXT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def normalize_address(value: str) -> str:
    """`value` lower-cased with its domain in ASCII; ValueError saying what is wrong."""
    address, why = _checked(value)
    if why is not None:
        raise ValueError(why)
    return address


def address_problem(value: str) -> str | None:
    """Why `value` is not an acceptable address, or None."""
    return _checked(value)[1]


def _checked(value: str) -> tuple[str, str | None]:
    text = value.strip()
    why = _unprintable(text)
    if why:
        return text, why
    if text.count("@") != 1:
        return text, "must be one address, local-part@domain (exactly one @)"
    local, domain = text.split("@")
    why = _local_problem(local)
    if why:
        return text, why
    ascii_domain, why = _ascii_domain(domain)
    if why:
        return text, why
    address = f"{local.lower()}@{ascii_domain}"
    if len(address) > MAX_ADDRESS_CHARS:
        return text, f"is longer than {MAX_ADDRESS_CHARS} characters"
    return address, None


def _unprintable(text: str) -> str | None:
    if not text:
        return "must not be empty"
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            return "must be valid Unicode (no lone surrogates)"
        if category in ("Cc", "Cf", "Zl", "Zp") or char.isspace():
            return f"must not contain control characters or spaces (found U+{ord(char):04X})"
    return None


def _local_problem(local: str) -> str | None:
    if not local:
        return "has an empty local part (before the @)"
    if not local.isascii():
        return (
            "the local part (before the @) must be ASCII:"
            " internationalised local parts are not supported"
        )
    if len(local) > MAX_LOCAL_CHARS:
        return f"the local part (before the @) is longer than {MAX_LOCAL_CHARS} characters"
    bad = sorted(set(local) - _ATEXT - {"."})
    if bad:
        return (
            f"the local part (before the @) must not contain {''.join(bad)!r}"
            " (quoted local parts are not supported)"
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return (
            "the local part (before the @) must not start or end with a dot or contain two in a row"
        )
    return None


def _ascii_domain(domain: str) -> tuple[str, str | None]:
    if not domain:
        return domain, "has an empty domain (after the @)"
    if domain.startswith("["):
        return domain, "address literals like [192.0.2.1] are not accepted: use a domain name"
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True, std3_rules=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            return domain, f"the domain is not a valid internationalised domain name (IDNA): {exc}"
    domain = domain.lower()
    if len(domain) > MAX_DOMAIN_CHARS:
        return domain, f"the domain is longer than {MAX_DOMAIN_CHARS} characters"
    for label in domain.split("."):
        why = _label_problem(label)
        if why:
            return domain, why
    return domain, None


def _label_problem(label: str) -> str | None:
    if not label:
        return "the domain has an empty label (a leading, trailing or double dot)"
    if len(label) > MAX_LABEL_CHARS:
        return f"the domain has a label longer than {MAX_LABEL_CHARS} characters"
    bad = sorted(set(label) - _LDH)
    if bad:
        return (
            f"the domain must not contain {''.join(bad)!r} (letters, digits, hyphens and dots only)"
        )
    if label.startswith("-") or label.endswith("-"):
        return "a domain label must not start or end with a hyphen"
    if label.startswith("xn--"):
        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            return f"the domain label {label!r} is not valid punycode (IDNA)"
    return None
