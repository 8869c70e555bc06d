"""`postroom-fetcher`: run the fetcher service (settings from POSTROOM_* variables)."""

from postroom_fetcher.app import register
from postroom_fetcher.settings import FetcherSettings
from postroom_shared.runtime import run_service


def main() -> None:
    run_service("fetcher", FetcherSettings, register)


if __name__ == "__main__":
    main()
