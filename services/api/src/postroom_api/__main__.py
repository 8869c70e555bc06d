"""`postroom-api`: serve the HTTP API with uvicorn (settings from POSTROOM_* variables)."""

import uvicorn

from postroom_api.app import create_app
from postroom_api.settings import ApiSettings
from postroom_shared.logs import configure_logging


def load() -> None:
    """Import what the service runs: all of it above (the API serves HTTP with uvicorn)."""


def main() -> None:
    settings = ApiSettings()  # type: ignore[call-arg]  # values come from the environment
    configure_logging("api", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
