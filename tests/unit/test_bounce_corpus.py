"""parse_bounce() against sisimai's expectations (fixtures/mail/sisimai/expected_p5-sisimai.json).

Per file: the number of recipients; for each recipient whose expected status is a real DSN code
(not one of sisimai's own pseudo codes X.0.9xx, derived from its reason taxonomy), the status;
permanent <-> hardbounce where sisimai says hard, or where every expected status is 4.x.x.
The files where we disagree today are listed, each with the reason, in bench/bounces_reviewed.txt
(measured, not hidden; `make bounces` prints the same): a file that agrees again must leave the
list (the test says so), so every assertion is a real one.
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

# The reviewed disagreements (file, aspect, why), shared with `make bounces` (bench/bounces.py).
REVIEWED = Path(__file__).parent.parent.parent / "bench" / "bounces_reviewed.txt"


def _reviewed(aspect: str) -> frozenset[str]:
    lines = (line.split("#", 1)[0].split() for line in REVIEWED.read_text().splitlines())
    return frozenset(words[0] for words in lines if len(words) > 2 and words[1] == aspect)


COUNT_DIFFERS = _reviewed("recipients")
STATUS_DIFFERS = _reviewed("status")
PERMANENT_DIFFERS = _reviewed("hard")


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
        assert not count_ok, (
            f"{name} now agrees: remove its recipients line from bounces_reviewed.txt"
        )
        return
    assert count_ok, [r.address for r in got]
    statuses = [
        (g.status, str(w["status"]))
        for g, w in zip(got, want, strict=True)
        if w["status"] and not _PSEUDO.match(str(w["status"]))
    ]
    if name in STATUS_DIFFERS:
        assert any(a != b for a, b in statuses), (
            f"{name}: remove its status line from bounces_reviewed.txt"
        )
    else:
        assert all(a == b for a, b in statuses), statuses
    hard = any(w["hardbounce"] for w in want)
    codes = [str(w["status"]) for w in want if w["status"]]
    if bounce is not None and (hard or (codes and all(c.startswith("4") for c in codes))):
        if name in PERMANENT_DIFFERS:
            assert bounce.permanent != hard, (
                f"{name}: remove its hard line from bounces_reviewed.txt"
            )
        else:
            assert bounce.permanent == hard


def test_agreement_rates() -> None:
    """The measured rates, so a regression in coverage shows up even within the lists."""
    assert len(BOUNCES) == 567
    assert len(COUNT_DIFFERS) <= 15
    assert len(STATUS_DIFFERS) <= 20
    assert len(PERMANENT_DIFFERS) <= 5
