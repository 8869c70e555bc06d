"""`postroom-fetcher`: run the fetcher service (settings from POSTROOM_* variables)."""

from functools import partial

from postroom_fetcher.app import register
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.sync.hooks import CrashHook, no_crash
from postroom_shared.runtime import run_service


def main(crash: CrashHook = no_crash) -> None:
    """`crash` is for the kill tests (tests/crashpoints.py); the service runs without one."""
    run_service("fetcher", FetcherSettings, partial(register, crash=crash))


if __name__ == "__main__":
    main()
