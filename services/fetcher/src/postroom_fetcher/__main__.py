"""`postroom-fetcher`: run the fetcher service (settings from POSTROOM_* variables)."""

from postroom_shared.runtime import run_service

from postroom_fetcher.app import register
from postroom_fetcher.settings import FetcherSettings


def main() -> None:
    run_service("fetcher", FetcherSettings, register)


if __name__ == "__main__":
    main()
