"""The store as the replier sees it: the few role ports it uses, not the whole store.

The replier reads the configuration (accounts, SMTP settings, templates) and the item it
answers, keeps its own ledger and send history, appends the outbound message to the item's
thread and writes the processing log. What the API borrows from it (template previews, an
account's breakers, the test mail) needs only `PreviewStore`, `SendHistoryReader` and
`ConfigReader`.
"""

from typing import Protocol

from postroom_shared.store.ports import (
    ConfigReader,
    ItemReader,
    ProcessingLog,
    ReplyStore,
    ThreadWriter,
)

__all__ = ["PreviewStore", "ReplierStore"]


class PreviewStore(ConfigReader, ItemReader, Protocol):
    """A template rendered against a stored item, its account and its last inbound mail."""


class ReplierStore(ConfigReader, ItemReader, ThreadWriter, ReplyStore, ProcessingLog, Protocol):
    """Everything the replier's service, limits and templates touch."""
