"""Bounce fidelity against a bounce library's expectations (issue 14): sisimai's corpus.

    make bounces                                  # the copy in tests/fixtures/mail/sisimai
    make bounces CORPUS=../shared/corpus/sisimai  # or any checkout of p5-sisimai set-of-emails
    .venv/bin/python bench/bounces.py --corpus DIR [--reviewed bench/bounces_reviewed.txt]

`DIR` holds `expected_p5-sisimai.json` (from p5-sisimai's `t/*.t` tables) and the mails, either
flat or in `maildir_bsd/` (bounces) and `maildir_not/` (mail that is no bounce). Per mail, four
aspects are compared with what sisimai expects:

- bounce: lhost-/rhost-/rfc3464-* are bounces and arf-* too (Postroom files ARF reports as kind
  bounce, docs/decisions.md), rfc3834-* auto-replies, maildir_not/is-not-bounce-* none;
- recipients: as many bounced recipients as sisimai finds (its tables hold no addresses);
- status: the DSN codes, where sisimai's is a real one (not its X.0.9xx reason codes);
- hard: permanent or not, where sisimai says hard bounce, or every code it expects is 4.x.x.

Prints the agreement per aspect and every disagreement; each must be listed in the reviewed
file (file, aspect, why Postroom cannot or should not agree). Exit status 1 when a disagreement
is not listed or a listed one no longer disagrees, so the list stays true.
"""

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from postroom_converter.domain.bounce import parse_bounce
from postroom_converter.domain.classify import classify
from postroom_converter.domain.parse import parse_mail

REPO = Path(__file__).resolve().parent.parent
ASPECTS = ("bounce", "recipients", "status", "hard")
_PSEUDO = re.compile(r"^\d\.0\.9\d\d$")
_BOUNCE_PREFIXES = ("lhost-", "rhost-", "rfc3464-")


@dataclass(frozen=True)
class Disagreement:
    name: str
    aspect: str
    detail: str


def mails(corpus: Path) -> Iterator[Path]:
    for folder in (corpus / "maildir_bsd", corpus / "maildir_not", corpus):
        if folder.is_dir():
            yield from sorted(folder.glob("*.eml"))


def _want_bounce(name: str) -> bool | None:
    if name.startswith((*_BOUNCE_PREFIXES, "arf-")):
        return True
    return False if name.startswith(("rfc3834-", "is-not-bounce-")) else None


def compare(name: str, raw: bytes, expected: list[dict[str, object]] | None) -> dict[str, str]:
    """Per aspect compared: "" when Postroom agrees, else what differs."""
    mail = parse_mail(raw)
    result = classify(mail, is_our_message_id=lambda _: False, loop_header="x-postroom-loop")
    out: dict[str, str] = {}
    want = _want_bounce(name)
    if want is not None:
        got = result.kind == "bounce"
        out["bounce"] = "" if got == want else f"kind {result.kind} ({'; '.join(result.reasons)})"
    if expected is None or not name.startswith(_BOUNCE_PREFIXES):
        return out
    bounce = parse_bounce(mail.tree)
    got_rcpts = list(bounce.recipients) if bounce else []
    shown = ", ".join(f"{r.address} {r.status}".strip() for r in got_rcpts) or "none"
    if len(got_rcpts) != len(expected):
        out["recipients"] = f"{len(got_rcpts)} found ({shown}), sisimai {len(expected)}"
        return out
    out["recipients"] = ""
    pairs = [
        (g.status, str(w["status"]))
        for g, w in zip(got_rcpts, expected, strict=True)
        if w["status"] and not _PSEUDO.match(str(w["status"]))
    ]
    if pairs:
        same = all(a == b for a, b in pairs)
        out["status"] = (
            "" if same else f"{[a for a, _ in pairs]} vs sisimai {[b for _, b in pairs]}"
        )
    hard = any(w["hardbounce"] for w in expected)
    codes = [str(w["status"]) for w in expected if w["status"]]
    if bounce is not None and (hard or (codes and all(c.startswith("4") for c in codes))):
        same = bounce.permanent == hard
        out["hard"] = "" if same else f"permanent={bounce.permanent}, sisimai hardbounce={hard}"
    return out


def read_reviewed(path: Path) -> dict[tuple[str, str], str]:
    """`file aspect why...` per line; `#` starts a comment."""
    reviewed: dict[tuple[str, str], str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, aspect, why = ([*line.split(None, 2), "", ""])[:3]
        if aspect not in ASPECTS or not why:
            raise SystemExit(f"{path}:{number}: want 'file aspect why', got {line!r}")
        reviewed[(name, aspect)] = why
    return reviewed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "tests/fixtures/mail/sisimai")
    parser.add_argument("--reviewed", type=Path, default=REPO / "bench/bounces_reviewed.txt")
    args = parser.parse_args()
    expected = json.loads((args.corpus / "expected_p5-sisimai.json").read_text())
    reviewed = read_reviewed(args.reviewed)
    totals = {aspect: [0, 0] for aspect in ASPECTS}  # agreed, compared
    found: list[Disagreement] = []
    for path in mails(args.corpus):
        want = expected.get(path.name, {}).get("recipients")
        for aspect, detail in compare(path.name, path.read_bytes(), want).items():
            totals[aspect][0] += not detail
            totals[aspect][1] += 1
            if detail:
                found.append(Disagreement(path.name, aspect, detail))
    print(f"corpus {args.corpus}")
    for aspect, (agreed, compared) in totals.items():
        share = 100 * agreed / compared if compared else 100.0
        print(f"  {aspect:<10} {agreed:>4} of {compared:>4} agree ({share:.1f}%)")
    unexplained = [d for d in found if (d.name, d.aspect) not in reviewed]
    seen = {(d.name, d.aspect) for d in found}
    stale = sorted(key for key in reviewed if key not in seen)
    print(f"\n{len(found)} disagreements, {len(found) - len(unexplained)} reviewed:")
    for d in found:
        why = reviewed.get((d.name, d.aspect), "UNEXPLAINED")
        print(f"  {d.name} [{d.aspect}] {d.detail}\n      why: {why}")
    for name, aspect in stale:
        print(f"  STALE {name} [{aspect}]: agrees now, remove it from {args.reviewed.name}")
    print(f"\n{len(unexplained)} unexplained, {len(stale)} stale")
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())
