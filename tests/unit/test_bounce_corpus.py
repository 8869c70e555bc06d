"""parse_bounce() against sisimai's expectations (fixtures/mail/sisimai/expected_p5-sisimai.json).

Per file: the number of recipients; for each recipient whose expected status is a real DSN code
(not one of sisimai's own pseudo codes X.0.9xx, derived from its reason taxonomy), the status;
permanent <-> hardbounce where sisimai says hard, or where every expected status is 4.x.x.
The files where we disagree today are listed explicitly below (measured, not hidden): a file
leaving a list must be removed from it (the test says so), so every assertion is a real one.
Why they differ: mostly a bounce naming further addresses in its text (forwarding targets,
postmaster contacts, the original recipient before an alias) or a status sisimai derives from its
reason taxonomy when the text only says 550 / 5.0.0.
"""

import json
import re
from pathlib import Path

import pytest

from postroom_converter.domain.bounce import parse_bounce
from postroom_converter.domain.parse import parse_mail

SISIMAI = Path(__file__).parent.parent / "fixtures" / "mail" / "sisimai"
EXPECTED: dict[str, dict[str, object]] = json.loads(
    (SISIMAI / "expected_p5-sisimai.json").read_text()
)
BOUNCES = sorted(n for n in EXPECTED if not n.startswith(("arf-", "rfc3834-")))
_PSEUDO = re.compile(r"^\d\.0\.9\d\d$")

COUNT_DIFFERS = frozenset(
    {
        "lhost-amazonses-09.eml",
        "lhost-amazonses-10.eml",
        "lhost-amazonses-11.eml",
        "lhost-amazonses-12.eml",
        "lhost-amazonses-13.eml",
        "lhost-aol-03.eml",
        "lhost-einsundeins-02.eml",
        "lhost-einsundeins-03.eml",
        "lhost-exchange2003-03.eml",
        "lhost-exim-04.eml",
        "lhost-exim-07.eml",
        "lhost-exim-08.eml",
        "lhost-exim-52.eml",
        "lhost-exim-58.eml",
        "lhost-exim-61.eml",
        "lhost-fml-02.eml",
        "lhost-fml-03.eml",
        "lhost-googlegroups-01.eml",
        "lhost-googlegroups-02.eml",
        "lhost-googlegroups-03.eml",
        "lhost-googlegroups-04.eml",
        "lhost-googlegroups-05.eml",
        "lhost-googlegroups-06.eml",
        "lhost-googlegroups-07.eml",
        "lhost-googlegroups-08.eml",
        "lhost-googlegroups-09.eml",
        "lhost-googlegroups-10.eml",
        "lhost-googlegroups-11.eml",
        "lhost-googlegroups-12.eml",
        "lhost-googlegroups-13.eml",
        "lhost-googlegroups-14.eml",
        "lhost-googlegroups-15.eml",
        "lhost-mxlogic-03.eml",
        "lhost-opensmtpd-03.eml",
        "lhost-postfix-07.eml",
        "lhost-postfix-34.eml",
        "lhost-postfix-64.eml",
        "lhost-qmail-08.eml",
        "lhost-sendmail-38.eml",
        "lhost-sendmail-41.eml",
        "lhost-v5sendmail-03.eml",
        "lhost-verizon-01.eml",
        "rfc3464-28.eml",
        "rhost-franceptt-03.eml",
        "rhost-franceptt-04.eml",
        "rhost-yahooinc-03.eml",
    }
)
STATUS_DIFFERS = frozenset(
    {
        "lhost-amazonses-01.eml",
        "lhost-amazonses-02.eml",
        "lhost-amazonses-03.eml",
        "lhost-amazonses-17.eml",
        "lhost-amazonworkmail-05.eml",
        "lhost-amazonworkmail-07.eml",
        "lhost-courier-01.eml",
        "lhost-courier-03.eml",
        "lhost-exchange2007-05.eml",
        "lhost-exim-43.eml",
        "lhost-exim-48.eml",
        "lhost-gmail-01.eml",
        "lhost-gmail-16.eml",
        "lhost-gsuite-01.eml",
        "lhost-mailmarshalsmtp-02.eml",
        "lhost-messagelabs-01.eml",
        "lhost-messagingserver-03.eml",
        "lhost-office365-01.eml",
        "lhost-opensmtpd-11.eml",
        "lhost-opensmtpd-13.eml",
        "lhost-opensmtpd-14.eml",
        "lhost-opensmtpd-17.eml",
        "lhost-postfix-39.eml",
        "lhost-postfix-44.eml",
        "lhost-postfix-75.eml",
        "lhost-sendmail-07.eml",
        "lhost-sendmail-08.eml",
        "lhost-sendmail-10.eml",
        "lhost-sendmail-18.eml",
        "lhost-sendmail-33.eml",
        "lhost-sendmail-36.eml",
        "lhost-sendmail-39.eml",
        "lhost-sendmail-56.eml",
        "lhost-x3-01.eml",
        "lhost-x3-03.eml",
        "lhost-x3-06.eml",
        "rhost-franceptt-10.eml",
    }
)
PERMANENT_DIFFERS = frozenset(
    {
        "lhost-exim-06.eml",
        "lhost-opensmtpd-12.eml",
        "lhost-postfix-05.eml",
        "lhost-sendmail-56.eml",
        "lhost-yahoo-09.eml",
        "lhost-zoho-05.eml",
    }
)


def _expected(name: str) -> list[dict[str, object]]:
    recipients = EXPECTED[name]["recipients"]
    assert isinstance(recipients, list)
    return recipients


@pytest.mark.parametrize("name", BOUNCES)
def test_bounce_matches_sisimai(name: str) -> None:
    bounce = parse_bounce(parse_mail((SISIMAI / name).read_bytes()).tree)
    got = list(bounce.recipients) if bounce else []
    want = _expected(name)
    count_ok = len(got) == len(want)
    if name in COUNT_DIFFERS:
        assert not count_ok, f"{name} now agrees: remove it from COUNT_DIFFERS"
        return
    assert count_ok, [r.address for r in got]
    statuses = [
        (g.status, str(w["status"]))
        for g, w in zip(got, want, strict=True)
        if w["status"] and not _PSEUDO.match(str(w["status"]))
    ]
    if name in STATUS_DIFFERS:
        assert any(a != b for a, b in statuses), f"{name}: remove it from STATUS_DIFFERS"
    else:
        assert all(a == b for a, b in statuses), statuses
    hard = any(w["hardbounce"] for w in want)
    codes = [str(w["status"]) for w in want if w["status"]]
    if bounce is not None and (hard or (codes and all(c.startswith("4") for c in codes))):
        if name in PERMANENT_DIFFERS:
            assert bounce.permanent != hard, f"{name}: remove it from PERMANENT_DIFFERS"
        else:
            assert bounce.permanent == hard


def test_agreement_rates() -> None:
    """The measured rates, so a regression in coverage shows up even within the lists."""
    assert len(BOUNCES) == 567
    assert len(COUNT_DIFFERS) <= 60
    assert len(STATUS_DIFFERS) <= 60
    assert len(PERMANENT_DIFFERS) <= 10
