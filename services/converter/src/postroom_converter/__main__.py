"""`postroom-converter`: run the converter service (settings from POSTROOM_* variables)."""

from postroom_converter.settings import ConverterSettings
from postroom_shared.optional_imports import as_if_absent


def load() -> None:
    """Import what the service runs; FastStream without uvicorn (optional_imports.py)."""
    with as_if_absent("uvicorn"):
        import postroom_converter.app  # noqa: F401
        import postroom_shared.runtime  # noqa: F401


def main() -> None:
    load()
    from postroom_converter.app import register
    from postroom_shared.runtime import run_service

    run_service("converter", ConverterSettings, register)


if __name__ == "__main__":
    main()
