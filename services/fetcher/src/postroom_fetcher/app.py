"""Wiring: the fetcher publishes only, so it registers no subscriber, just its poll loops."""

from collections.abc import Coroutine
from typing import Any

from faststream.rabbit import RabbitBroker

from postroom_fetcher.service import Fetcher
from postroom_fetcher.settings import FetcherSettings
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["register"]


def register(
    broker: RabbitBroker, store: Store, settings: FetcherSettings
) -> list[Coroutine[Any, Any, None]]:
    fetcher = Fetcher(
        store=store,
        broker=broker,
        secrets=SecretBox(settings.secret_key.get_secret_value()),
        settings=settings,
    )
    return [fetcher.supervise()]
