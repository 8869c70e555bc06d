"""`make bounces` (bench/bounces.py) over the sisimai copy: it passes with the reviewed list, and
fails, naming the mail, when a disagreement is not listed or a listed one agrees again."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent.parent
SCRIPT = REPO / "bench" / "bounces.py"
REVIEWED = REPO / "bench" / "bounces_reviewed.txt"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_every_disagreement_is_reviewed() -> None:
    done = _run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "0 unexplained, 0 stale" in done.stdout


def test_an_unlisted_or_stale_entry_fails(tmp_path: Path) -> None:
    lines = REVIEWED.read_text().splitlines()
    dropped = next(line for line in lines if line.startswith("lhost-exim-04.eml"))
    edited = [line for line in lines if line != dropped]
    edited.append("lhost-postfix-01.eml recipients agrees, so this line is stale")
    reviewed = tmp_path / "reviewed.txt"
    reviewed.write_text("\n".join(edited) + "\n")
    done = _run("--reviewed", str(reviewed))
    assert done.returncode == 1
    assert "lhost-exim-04.eml [recipients]" in done.stdout and "UNEXPLAINED" in done.stdout
    assert "STALE lhost-postfix-01.eml [recipients]" in done.stdout
    assert "1 unexplained, 1 stale" in done.stdout
