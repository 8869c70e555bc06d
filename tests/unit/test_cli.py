"""The `postroom` command's own package: every group registered once, usage errors before any
connection, and plain imports (shared never reaches up into a service)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from postroom_cli.main import COMMANDS, build_parser, run

REPO = Path(__file__).resolve().parent.parent.parent
POSTROOM = Path(sys.executable).parent / "postroom"
EXPECTED = {
    "seed-demo",
    "health",
    "parse",
    "quarantine",
    "api-key",
    "rotate-secrets",
    "cleanup",
    "dlq",
    "deliver",
}


def test_every_command_has_a_parser_and_a_function() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices or {}) == EXPECTED == set(COMMANDS)


def test_help_lists_every_command() -> None:
    shown = subprocess.run(
        [str(POSTROOM), "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for name in EXPECTED:
        assert name in shown


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["quarantine", "show"], "postroom quarantine show needs an id"),
        (["dlq", "show", "converter.mail.received.v1"], "needs a MESSAGE_ID"),
        (["dlq", "purge", "converter.mail.received.v1"], "add --yes"),
        (["dlq", "list", "--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_usage_errors_exit_2_before_connecting(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # no POSTROOM_* settings at all: a command that got this far would fail on them instead
    assert run(argv) == 2
    assert problem in capsys.readouterr().err


def test_unknown_command_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as raised:
        run(["frobnicate"])
    assert raised.value.code == 2


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_shared_reaches_no_service_and_nothing_hides_an_import() -> None:
    # importlib is how shared once reached the fetcher and converter behind mypy's back
    services = ("postroom_fetcher", "postroom_converter", "postroom_replier", "postroom_api")
    for path in (REPO / "shared/src/postroom_shared").rglob("*.py"):
        reached = {name for name in _imports(path) if name.startswith((*services, "postroom_cli"))}
        assert not reached, f"{path.name} imports {reached}"
        assert "importlib" not in _imports(path), path.name
    for path in (REPO / "services/cli/src/postroom_cli").rglob("*.py"):
        assert "importlib" not in _imports(path), path.name
