"""The map in docs/architecture.md holds: other packages reach a service only through its
facade (`ops.py`) or its store protocol (`store.py`), and `postroom_shared` reaches no service.
A deep import would tie the API or the CLI to a service's insides, which may change freely."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("postroom_fetcher", "postroom_converter", "postroom_replier", "postroom_api")
ALLOWED = {"ops", "store"}


def _imported(path: Path) -> set[str]:
    """Every module `path` imports, with `from pkg import mod` read as `pkg.mod`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if "." in node.module:
                found.add(node.module)
            else:  # `from postroom_fetcher import ops`
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _package_of(path: Path) -> str:
    return next(part for part in path.parts if part.startswith("postroom_"))


def test_services_are_reached_only_through_their_facade_or_store_protocol() -> None:
    sources = [*REPO.glob("services/*/src/postroom_*/**/*.py")]
    assert len(sources) > 100
    deep = []
    for path in sources:
        own = _package_of(path.relative_to(REPO))
        for module in _imported(path):
            top, _, rest = module.partition(".")
            if top in SERVICES and top != own and rest.split(".")[0] not in ALLOWED:
                deep.append(f"{path.relative_to(REPO)} imports {module}")
    assert deep == []


def test_shared_reaches_no_service() -> None:
    for path in (REPO / "shared/src/postroom_shared").rglob("*.py"):
        reached = {m for m in _imported(path) if m.startswith((*SERVICES, "postroom_cli"))}
        assert not reached, f"{path.name} imports {reached}"
