"""Wiring: the fetcher publishes only, so it registers no subscriber, just its supervisor
(which runs one worker per account it holds the lease of) with OAuth tokens for Microsoft and
Google accounts."""

from collections.abc import Coroutine
from typing import Any

from faststream.rabbit import RabbitBroker

from postroom_fetcher.service import Fetcher
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.sync.hooks import CrashHook, no_crash
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["register"]


def register(
    broker: RabbitBroker, store: Store, settings: FetcherSettings, *, crash: CrashHook = no_crash
) -> list[Coroutine[Any, Any, None]]:
    secrets = SecretBox.from_settings(settings)
    fetcher = Fetcher(
        store=store,
        broker=broker,
        secrets=secrets,
        settings=settings,
        tokens=TokenSource(store, secrets, OAuthEndpoints.from_settings(settings)),
        crash=crash,
    )
    return [fetcher.supervise()]
