"""Where fetched mail goes: the blob store, the broker, and the `source` its events name. Both
syncs, the quarantine of header blocks and `postroom deliver` publish through one."""

from dataclasses import dataclass

from faststream.rabbit import RabbitBroker

from postroom_fetcher.store import FetcherStore

__all__ = ["Outlet"]


@dataclass(frozen=True)
class Outlet:
    """Where fetched mail goes: the blob store, the broker, and the `source` events name."""

    store: FetcherStore
    broker: RabbitBroker
    source: str  # "fetcher", or "deliver" for mail an MTA pushed
    inline_max_bytes: int  # larger mail travels by blob reference
