"""The converter's facade: what other packages (the API, the `postroom` CLI) may call.

Everything here takes plain settings values and a store/broker the caller already holds, so a
caller never assembles the converter's parts (signer, analyser, service) itself.
"""

from typing import Any

from faststream.rabbit import RabbitBroker

from postroom_converter.commands import items as _items
from postroom_converter.commands.items import Applied
from postroom_converter.describe import describe_budgeted
from postroom_converter.domain.item_commands import CommandRejected, VersionConflict
from postroom_converter.domain.outcome import (
    Created,
    Duplicate,
    Ignored,
    Outcome,
    Quarantined,
    Threaded,
)
from postroom_converter.service import Converter, HeadersOnlyError
from postroom_converter.store import ConverterStore
from postroom_converter.worker_process import AnalysisFailed
from postroom_shared.contracts import ItemCommand
from postroom_shared.mail.msgid import MessageIdSigner

__all__ = [
    "AnalysisFailed",
    "Applied",
    "CommandRejected",
    "Created",
    "Duplicate",
    "HeadersOnlyError",
    "Ignored",
    "Outcome",
    "Quarantined",
    "Threaded",
    "VersionConflict",
    "apply_item_command",
    "describe",
    "reprocess",
]


async def reprocess(
    store: ConverterStore, broker: RabbitBroker, *, secret_key: str, entry_id: str
) -> Outcome:
    """Run quarantine entry `entry_id` through the converter again, in this process.

    The entry leaves the quarantine unless the outcome is `Quarantined` again (then it stays,
    with one attempt more). The broker must be connected and the topology declared.
    Raises KeyError when the entry is gone, HeadersOnlyError when it holds only a mail's
    headers, TransientError when the store or broker should be tried again.
    """
    converter = Converter(store=store, broker=broker, signer=MessageIdSigner.checking(secret_key))
    return await converter.reprocess(entry_id)


async def apply_item_command(
    store: ConverterStore, broker: RabbitBroker, signer: MessageIdSigner, command: ItemCommand
) -> Applied:
    """Apply an item command in this process, through the very path the broker consumer takes
    (`commands/items.py`): once per `command_id`, the item's `item.updated.v1` published
    before it returns. Returns the item after the command and the event (None when nothing
    changed or the command was applied before).

    Raises CommandRejected with the reason (unknown item, status or step; assignee not a user;
    empty note, ...) and VersionConflict (a CommandRejected) when `expected_version` is not
    the item's version: re-read and retry. TransientError when the store or broker should be
    tried again. `signer` makes the signed Message-ID of a team reply (any signer with the
    deployment's secret key; `MessageIdSigner.checking(secret_key)` will do).
    """
    return await _items.apply_item_command(store, broker, signer, command)


def describe(raw: bytes, *, secret_key: str | None = None) -> dict[str, Any]:
    """Everything the converter reads from `raw`, as one JSON-ready object (what
    `postroom parse` prints; keys in `describe.KEYS`), analysed under the parse budget.

    With `secret_key` our own signed Message-IDs are recognised (own-loop mail). Raises
    AnalysisFailed when the analysis worker died, ValueError for a bad POSTROOM_PARSE_BUDGET_S.
    """
    signer = MessageIdSigner.checking(secret_key) if secret_key else None
    return describe_budgeted(raw, signer=signer)
