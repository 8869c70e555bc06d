"""Applying one write request to an item: read it, check the caller's preconditions, run its
commands in order through the item owner's write path (`postroom_converter.ops
.apply_item_command`, the same one the broker's command consumers take), and shape the answer,
including the 409/412/422 that name what was applied before a refusal.

The routes (`routes/item_work.py`) only say which commands a request is; the rules they use
are pure (`item_work.py`).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Response
from fastapi.responses import JSONResponse
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError

from postroom_api.auth import Principal
from postroom_api.item_work import Ids, Precondition, etag, precondition
from postroom_api.routes.items import deliveries, load_item
from postroom_api.routing import from_validation_error
from postroom_api.schemas.item_work import CommandResult, Refused, WorkResult
from postroom_api.schemas.items import ItemState, MessageView
from postroom_api.store import ApiStore
from postroom_converter import ops
from postroom_shared.contracts import ItemCommand
from postroom_shared.errors import TransientError
from postroom_shared.logs import get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import Item

__all__ = ["Commands", "Work"]

log = get_logger(__name__)


class _Refusal(Exception):
    """A request refused after the item was read; `response` is the answer."""

    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _refused(status_code: int, detail: str, version: int, done: list[CommandResult]) -> _Refusal:
    body = Refused(detail=detail, current_version=version, applied=done)
    return _Refusal(JSONResponse(body.model_dump(), status_code, headers={"ETag": etag(version)}))


Commands = Callable[[Item, Ids], list[ItemCommand]]
"""What a route asks of the item as read now, with the request's command ids."""


@dataclass
class Work:
    """One write request: the process's store, broker and signer, the caller, its
    preconditions and idempotency key, and the response whose headers get the ETag."""

    store: ApiStore
    broker: RabbitBroker
    ready: asyncio.Event
    signer: MessageIdSigner
    caller: Principal
    response: Response
    ids: Ids
    if_match: str | None

    async def run(self, item_id: str, version: int | None, commands: Commands) -> Any:
        """Read the item (404), check the preconditions (412), apply the commands and answer:
        the item as it is now, what each command did, the note or reply added."""
        if not (self.ready.is_set() and await self.broker.ping(timeout=2.0)):
            raise HTTPException(503, detail="the broker is unreachable; try again")
        item = await load_item(self.store, item_id)
        try:
            try:
                pre = precondition(self.if_match, version, item.version)
            except ValueError as exc:
                raise _refused(412, str(exc), item.version, []) from None
            try:
                asked = commands(item, self.ids)
            except ValidationError as exc:  # a value the schema let through, a command refuses
                raise from_validation_error(exc) from None
            item, done, last = await self._apply(item, asked, pre)
        except _Refusal as refusal:
            return refusal.response
        self.response.headers["ETag"] = etag(item.version)
        message = None
        if last is not None and last.event is not None and last.event.thread_key:
            message = await self._message(item, last.event.thread_key)
        return WorkResult(item=ItemState.of(item), applied=done, message=message)

    async def _message(self, item: Item, key: str) -> MessageView | None:
        for entry in await self.store.list_messages(item.id):
            if entry.key == key:
                found = await deliveries(self.store, item, [entry])
                return MessageView.of(entry, f"/v1/items/{item.id}", found)
        return None

    async def _version(self, item: Item) -> int:
        now = await self.store.get_item(item.id)
        return (now or item).version

    async def _apply(
        self, item: Item, commands: list[ItemCommand], pre: Precondition
    ) -> tuple[Item, list[CommandResult], ops.Applied | None]:
        """Apply `commands` in order, each expecting the version the previous one left (when
        the caller named one); stop at the first refusal, whose answer names what was
        applied."""
        done: list[CommandResult] = []
        expected, last = pre.expected, None
        for command in commands:
            try:
                last = await ops.apply_item_command(
                    self.store,
                    self.broker,
                    self.signer,
                    command.model_copy(update={"expected_version": expected}),
                )
            except ops.VersionConflict as exc:
                code = pre.mismatch_status if pre.expected is not None else 409
                raise _refused(code, exc.reason, await self._version(item), done) from None
            except ops.CommandRejected as exc:
                if await self.store.get_item(item.id) is None:
                    raise HTTPException(404, detail=f"no item {item.id}") from None
                error = {"type": "command_rejected", "loc": ["body"], "msg": exc.reason}
                content = {
                    "detail": [error],
                    "current_version": await self._version(item),
                    "applied": [result.model_dump() for result in done],
                }
                raise _Refusal(JSONResponse(content, 422)) from None
            except TransientError as exc:
                log.warning("item command not applied", command=command.type, error=str(exc))
                raise HTTPException(
                    503, detail=f"try again (same Idempotency-Key): {exc}"
                ) from None
            event = last.event
            changes: list[str] = list(event.changes) if event else []
            done.append(
                CommandResult(
                    command=command.type,
                    command_id=str(command.command_id),
                    outcome=last.outcome,
                    changes=changes,
                )
            )
            item = last.item
            expected = item.version if expected is not None else None
        return item, done, last
