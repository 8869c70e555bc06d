"""The store as the converter sees it: the few role ports it uses, not the whole store.

The converter owns items, their threads and their outbox; it reads the configuration (the
account, its workflow, known people), records unknown senders as contacts, reads and writes
blobs (raw mail, attachments), and writes the processing log and the quarantine; mails
converted side by side are written in batches (`ItemBatches`, `postroom_shared.coalescing`).
"""

from typing import Protocol

from postroom_shared.store.ports import (
    BlobStore,
    ConfigReader,
    Contacts,
    ItemBatches,
    ItemStore,
    ProcessingLog,
    Quarantine,
)

__all__ = ["ConverterStore"]


class ConverterStore(
    ConfigReader, Contacts, ItemStore, ItemBatches, BlobStore, ProcessingLog, Quarantine, Protocol
):
    """Everything the converter's service and its quarantine commands touch."""
