"""The store as the fetcher sees it: the few role ports it uses, not the whole store.

The fetcher reads the configuration, keeps its own fetch state (checkpoints, seen keys, leases,
account states), writes large mail to the blob store and oversized or unreadable mail to the
quarantine. What the API asks of a mailbox (`probe.py`) needs only `ProbeStore`.
"""

from typing import Protocol

from postroom_shared.store.ports import (
    BlobStore,
    Checkpoints,
    ConfigReader,
    FetchStore,
    Quarantine,
    SeenKeys,
)

__all__ = ["FetcherStore", "ProbeStore"]


class ProbeStore(Checkpoints, SeenKeys, Protocol):
    """How much mail activation would import (checkpoint, recorded UIDLs), and "fetch now"."""


class FetcherStore(ConfigReader, FetchStore, BlobStore, Quarantine, Protocol):
    """Everything the fetcher's services, workers and syncs touch."""
