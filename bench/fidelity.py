"""Parsing fidelity: Postroom's parse of every mail of a corpus against an independent decoder.

    make fidelity                              # corpus: ../shared/corpus when it exists
    make fidelity CORPUS=/path/to/mails        # or POSTROOM_FIDELITY_CORPUS=/path
    .venv/bin/python -m bench.fidelity /path/to/mails [--all]

The reference is the standard library's `email` package with `policy.default` (its modern
header parser and content manager), read independently of Postroom's compat32 parse. For each
mail it compares sender address, display name, subject, attachment names and body text, prints
the agreement per field and lists every disagreement (file, field, Postroom, reference).
Disagreements reviewed as the reference's error are listed in bench/fidelity_reviewed.toml
(file + field + why Postroom is right); the script counts them apart and exits 1 while any
disagreement is unexplained. What is compared, and how it is normalised, is in
docs/decisions.md ("Parsing fidelity"). Attachments are never opened (no archive is read).
"""

import argparse
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.fidelity_reference import (
    FIELDS,
    Fields,
    normalise_text,
    postroom_fields,
    reference_fields,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
REVIEWED = Path(__file__).resolve().parent / "fidelity_reviewed.toml"
_NOT_MAIL_SUFFIXES = {".md", ".json", ".xml", ".list", ".tnef", ".zip", ".py", ".toml"}
_NOT_MAIL_NAMES = {"README", "README.txt", "LICENSE", "LICENSE.txt", "ARTISTIC-LICENSE.txt"}


@dataclass(frozen=True)
class Disagreement:
    file: str
    field: str
    postroom: str
    reference: str


def mail_files(corpus: Path) -> list[Path]:
    return sorted(
        path
        for path in corpus.rglob("*")
        if path.is_file()
        and path.suffix.lower() not in _NOT_MAIL_SUFFIXES
        and path.name not in _NOT_MAIL_NAMES
        and not path.name.startswith(".")
    )


def compare(raw: bytes) -> tuple[Fields, Fields, list[str]] | None:
    """Postroom's and the reference's fields and the names of the fields that differ; None when
    Postroom refuses the mail (over a cap: quarantined, not misread)."""
    ours = postroom_fields(raw)
    if ours is None:
        return None
    theirs = reference_fields(raw)
    differ = [name for name in FIELDS if not agrees(name, ours[name], theirs[name])]
    return ours, theirs, differ


def agrees(field: str, ours: str, theirs: str) -> bool:
    """Body text: the reference's (one part) is contained in Postroom's (every inline part,
    merged), as normalised words. Subject: equal up to Postroom's cap. Attachment names: each
    reference name is among Postroom's (which may add default names, attached messages named
    by subject, and a TNEF container's files). Else equal."""
    if field == "body":
        ascii_only = "\ufffd" in theirs
        return normalise_text(theirs, ascii_only) in normalise_text(ours, ascii_only)
    if field == "subject":
        return ours.strip() == theirs
    if field == "attachments":
        have = ours.split(" | ") if ours else []
        return all(name in have for name in (theirs.split(" | ") if theirs else []))
    return ours == theirs


def load_reviewed(path: Path) -> dict[tuple[str, str], str]:
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("reviewed", [])
    return {(str(e["file"]), str(e["field"])): str(e["why"]) for e in entries}


def _corpus(argument: str | None) -> Path | None:
    chosen = argument or os.environ.get("POSTROOM_FIDELITY_CORPUS")
    if chosen:
        return Path(chosen)
    return DEFAULT_CORPUS if DEFAULT_CORPUS.is_dir() else None


def _short(value: str, limit: int = 160) -> str:
    value = value.replace("\n", "\\n")
    return value if len(value) <= limit else value[: limit - 3] + "..."


def run(corpus: Path, reviewed: dict[tuple[str, str], str], show_all: bool) -> int:
    files = mail_files(corpus)
    agree = dict.fromkeys(FIELDS, 0)
    compared = refused = 0
    unexplained: list[Disagreement] = []
    explained: list[Disagreement] = []
    for path in files:
        relative = path.relative_to(corpus).as_posix()
        result = compare(path.read_bytes())
        if result is None:
            refused += 1
            continue
        compared += 1
        ours, theirs, differ = result
        for name in FIELDS:
            if name not in differ:
                agree[name] += 1
                continue
            found = Disagreement(relative, name, ours[name], theirs[name])
            (explained if (relative, name) in reviewed else unexplained).append(found)
    print(f"corpus {corpus}: {compared} mails compared ({refused} refused by a cap)")
    for name in FIELDS:
        share = 100 * agree[name] / compared if compared else 0.0
        print(f"  {name:<12} {agree[name]:>5}/{compared} agree ({share:.1f}%)")
    print(f"disagreements: {len(unexplained)} unexplained, {len(explained)} reviewed")
    for item in unexplained + (explained if show_all else []):
        why = reviewed.get((item.file, item.field))
        print(f"- {item.file} [{item.field}]" + (f" (reviewed: {why})" if why else ""))
        print(f"    postroom : {_short(item.postroom)!r}")
        print(f"    reference: {_short(item.reference)!r}")
    stale = set(reviewed) - {(d.file, d.field) for d in explained}
    for file, field in sorted(stale):
        print(f"! reviewed entry no longer disagrees (remove it): {file} [{field}]")
    return 1 if unexplained or stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", help="a directory of mails (any depth)")
    parser.add_argument("--all", action="store_true", help="also list reviewed disagreements")
    parser.add_argument("--reviewed", type=Path, default=REVIEWED)
    args = parser.parse_args(argv)
    corpus = _corpus(args.corpus)
    if corpus is None:
        print(
            f"fidelity: no corpus: {DEFAULT_CORPUS} does not exist. Give a directory of mails:"
            " make fidelity CORPUS=/path (or POSTROOM_FIDELITY_CORPUS=/path). Nothing compared."
        )
        return 0
    if not corpus.is_dir():
        print(f"fidelity: {corpus} is not a directory", file=sys.stderr)
        return 2
    return run(corpus, load_reviewed(args.reviewed), args.all)


if __name__ == "__main__":
    sys.exit(main())
