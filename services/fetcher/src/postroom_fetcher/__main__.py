"""`postroom-fetcher`: run the fetcher service (settings from POSTROOM_* variables)."""

from functools import partial

from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.sync.hooks import CrashHook, no_crash
from postroom_shared.optional_imports import as_if_absent


def load() -> None:
    """Import what the service runs; FastStream without uvicorn (optional_imports.py)."""
    with as_if_absent("uvicorn"):
        import postroom_fetcher.app  # noqa: F401
        import postroom_shared.runtime  # noqa: F401


def main(crash: CrashHook = no_crash) -> None:
    """`crash` is for the kill tests (tests/crashpoints.py); the service runs without one."""
    load()
    from postroom_fetcher.app import register
    from postroom_shared.runtime import run_service

    run_service("fetcher", FetcherSettings, partial(register, crash=crash))


if __name__ == "__main__":
    main()
