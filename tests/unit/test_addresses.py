"""The one address rule (postroom_shared.mail.address) over a table of hostile addresses: each
is refused with a reason, never let through to crash the `email` package or an SMTP server."""

import json
import re
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from postroom_shared.mail.address import address_problem, normalize_address

# The fuzzing find of issue 10 (schemathesis): JSON escapes as sent over the wire.
FUZZ_TO = json.loads('"C\\u008aD\\ud809\\udf5f\\u00a5/\\u00d4\\u00d0\\u00b8@["')
FUZZ_FROM = "0@" + 300 * "0"

HOSTILE = {
    "fuzzed recipient (C1 control, bracket domain)": (FUZZ_TO, "control characters"),
    "fuzzed sender (300-character label)": (FUZZ_FROM, "longer than 253"),
    "label of 64 characters": ("a@" + "b" * 64 + ".example", "label longer than 63"),
    "255 characters in all": ("a" * 64 + "@" + ".".join(["c" * 63] * 3) + ".ex", "254"),
    "local part of 65": ("a" * 65 + "@example.com", "longer than 64"),
    "non-ASCII local part": ("jürgen@example.com", "must be ASCII"),
    "lone surrogate": ("a\ud800@example.com", "lone surrogates"),
    "lone surrogate in the domain": ("a@ex\udfffample.com", "lone surrogates"),
    "NUL": ("a\x00@example.com", "control characters"),
    "CR LF header injection": ("a@example.com\r\nBcc: victim@example.org", "control"),
    "DEL": ("a\x7f@example.com", "control characters"),
    "zero-width joiner": ("a\u200d@example.com", "control characters"),
    "line separator": ("a@exa\u2028mple.com", "control characters"),
    "inner space": ("a b@example.com", "spaces"),
    "address literal": ("a@[192.0.2.1]", "address literals"),
    "IPv6 literal": ("a@[IPv6:::1]", "address literals"),
    "bracket in the local part": ("a[@example.com", "must not contain '['"),
    "angle brackets": ("<a@example.com>", "must not contain '<'"),
    "display name": ("Alice <a@example.com>", "spaces"),
    "quoted local part": ('"a b"@example.com', "spaces"),
    "quoted local part without spaces": ('"ab"@example.com', "quoted local parts"),
    "two addresses": ("a@example.com,b@example.com", "exactly one @"),
    "two at signs": ("a@b@example.com", "exactly one @"),
    "no at sign": ("example.com", "exactly one @"),
    "empty local part": ("@example.com", "empty local part"),
    "empty domain": ("a@", "empty domain"),
    "empty": ("", "must not be empty"),
    "leading dot": (".a@example.com", "dot"),
    "double dot": ("a..b@example.com", "dot"),
    "empty label": ("a@example..com", "empty label"),
    "trailing dot": ("a@example.com.", "empty label"),
    "hyphen first": ("a@-example.com", "hyphen"),
    "underscore in the domain": ("a@ex_ample.com", "must not contain '_'"),
    "slash in the domain": ("a@exa/mple.com", "must not contain '/'"),
    "bad punycode": ("a@xn--zz.example", "punycode"),
    "emoji domain (not IDNA 2008)": ("a@\U0001f4a9.la", "IDNA"),
    "IDNA label over 63 once encoded": ("a@" + "ü" * 60 + ".example", "IDNA"),
}


@pytest.mark.parametrize(("value", "why"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_addresses_are_refused_with_a_reason(value: str, why: str) -> None:
    problem = address_problem(value)
    assert problem is not None and why in problem, problem
    with pytest.raises(ValueError, match=re.escape(problem)):
        normalize_address(value)


GOOD = {
    "Alice@Example.COM": "alice@example.com",
    "  support@example.test ": "support@example.test",
    "first.last+tag@sub.example.co.uk": "first.last+tag@sub.example.co.uk",
    "o'brien!#$%&*/=?^_`{|}~-@example.com": "o'brien!#$%&*/=?^_`{|}~-@example.com",
    "x@bücher.example": "x@xn--bcher-kva.example",
    "x@Straße.de": "x@xn--strae-oqa.de",
    "x@ｅxample.com": "x@example.com",  # full-width letters map to ASCII (UTS 46)
    "x@xn--bcher-kva.example": "x@xn--bcher-kva.example",
    "root@localhost": "root@localhost",
    "a" * 64 + "@" + "b" * 63 + ".example": "a" * 64 + "@" + "b" * 63 + ".example",
}


@pytest.mark.parametrize(("value", "expected"), list(GOOD.items()))
def test_good_addresses_are_normalised(value: str, expected: str) -> None:
    assert address_problem(value) is None
    assert normalize_address(value) == expected


@pytest.mark.parametrize("value", list(GOOD))
def test_what_passes_goes_into_headers_as_it_is(value: str) -> None:
    # The reason for the rule: what it accepts, the `email` package takes without complaint.
    address = normalize_address(value)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = address
    msg["To"] = address
    assert not msg["To"].defects
    assert f"To: {address}\r\n".encode() in msg.as_bytes()
