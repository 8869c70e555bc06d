"""`postroom-replier`: run the replier service (settings from POSTROOM_* variables)."""

from postroom_replier.settings import ReplierSettings
from postroom_shared.optional_imports import as_if_absent


def load() -> None:
    """Import what the service runs; FastStream without uvicorn (optional_imports.py)."""
    with as_if_absent("uvicorn"):
        import postroom_replier.app  # noqa: F401
        import postroom_shared.runtime  # noqa: F401


def main() -> None:
    load()
    from postroom_replier.app import register
    from postroom_shared.runtime import run_service

    run_service("replier", ReplierSettings, register)


if __name__ == "__main__":
    main()
