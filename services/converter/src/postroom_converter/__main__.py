"""`postroom-converter`: run the converter service (settings from POSTROOM_* variables)."""

from postroom_converter.app import register
from postroom_converter.settings import ConverterSettings
from postroom_shared.runtime import run_service


def main() -> None:
    run_service("converter", ConverterSettings, register)


if __name__ == "__main__":
    main()
