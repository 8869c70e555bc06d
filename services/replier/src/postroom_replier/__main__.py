"""`postroom-replier`: run the replier service (settings from POSTROOM_* variables)."""

from postroom_replier.app import register
from postroom_replier.settings import ReplierSettings
from postroom_shared.runtime import run_service


def main() -> None:
    run_service("replier", ReplierSettings, register)


if __name__ == "__main__":
    main()
