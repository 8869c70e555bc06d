"""The store as the replier sees it: the few role ports it uses, not the whole store.

The replier reads the configuration (accounts, SMTP settings, templates, people and their
bounce marks), the item it answers and its thread, the attachments of a team reply (blobs),
keeps its own ledger and send history and writes the processing log. What the API borrows
from it (template previews, an account's breakers, the test mail) needs only `PreviewStore`,
`SendHistoryReader` and `ConfigReader`.
"""

from typing import Protocol

from postroom_shared.store.ports import (
    ConfigReader,
    ItemReader,
    ProcessingLog,
    ReplyStore,
)

__all__ = ["BlobSource", "PreviewStore", "ReplierStore"]


class BlobSource(Protocol):
    """Reading attachments (a team reply's files) from the blob store."""

    async def get_blob(self, ref: str) -> bytes: ...


class PreviewStore(ConfigReader, ItemReader, Protocol):
    """A template rendered against a stored item, its account and its last inbound mail."""


class ReplierStore(ConfigReader, ItemReader, ReplyStore, ProcessingLog, BlobSource, Protocol):
    """Everything the replier's service, limits and templates touch."""
