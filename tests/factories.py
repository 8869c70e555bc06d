"""Small builders shared by tests."""

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from postroom_shared.contracts import (
    AddressV1,
    ClassificationV1,
    ItemCreatedV1,
    ItemRefV1,
    MailReceivedV1,
    MessageRefV1,
    deterministic_event_id,
)
from postroom_shared.models import (
    EmailAccount,
    Item,
    ItemType,
    MailboxSettings,
    ThreadMessage,
    utcnow,
)
from postroom_shared.store import ItemQuery, Store
from postroom_shared.store.mongo import MongoStore
from postroom_shared.store.ports import ConsoleSession, ItemReader
from postroom_shared.store.sqlite import SqliteStore

__all__ = [
    "EmailAccount",
    "account",
    "all_items",
    "item_created",
    "item_ref",
    "mail_received",
    "stored_incident",
    "thread_message",
    "whole_store",
]


def account(account_id: str = "acc1", address: str = "support@example.test") -> EmailAccount:
    return EmailAccount(
        id=account_id,
        name="Support",
        address=address,
        project="Support",
        mailbox=MailboxSettings(host="h", port=143, username=address),
    )


def mail_received(mail_key: str, raw: bytes) -> MailReceivedV1:
    """The event the fetcher publishes for `raw`, keyed `<account>/<folder>/<uidvalidity>/<uid>`."""
    account_id, folder, uidvalidity, uid = mail_key.split("/")
    return MailReceivedV1(
        event_id=deterministic_event_id(mail_key, "mail.received.v1"),
        source="test",
        correlation_id=mail_key,
        account_id=account_id,
        mail_key=mail_key,
        folder=folder,
        uidvalidity=int(uidvalidity),
        uid=int(uid),
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        raw_inline=raw,
    )


def thread_message(item_id: str, key: str = "in-1") -> ThreadMessage:
    """A first inbound message for an item created directly in a test."""
    return ThreadMessage(key=f"{item_id}/{key}", item_id=item_id, account_id="acc1", direction="in")


def whole_store(store: object) -> Store:
    """The store a test built a service with, as the whole store it sets data up through (a
    service holds only its narrow protocol of it)."""
    assert isinstance(store, SqliteStore | MongoStore), type(store)
    return store


async def all_items(store: ItemReader, limit: int = 100) -> list[Item]:
    """The newest `limit` items, newest first: what a test looks at after mail went through."""
    return await store.query_items(ItemQuery(limit=limit))


async def stored_incident(store: Store, number: int, **fields: Any) -> Item:
    """An incident "Printer" of acc1 with its first inbound message, as the converter leaves it."""
    item = Item(
        id=f"it_{uuid.uuid4().hex[:10]}",
        item_type=ItemType.INCIDENT,
        number=number,
        project="Support",
        account_id="acc1",
        title="Printer",
        **fields,
    )
    await store.insert_item(item, thread_message(item.id), [])
    return item


def item_ref(number: int = 7, title: str = "Printer", status: str = "new") -> ItemRefV1:
    """Incident INC-`number` of acc1 as the item events describe it (no stored item)."""
    return ItemRefV1(
        item_id="it_1",
        item_type="incident",
        number=number,
        token=f"INC-{number}",
        project="Support",
        title=title,
        status=status,
        account_id="acc1",
    )


def item_created(item: Item, n: int, sender: str) -> ItemCreatedV1:
    """The converter's event for mail number `n` from `sender` opening `stored_incident`'s item."""
    key = f"acc1/INBOX/5/{n}-{uuid.uuid4().hex[:6]}"
    return ItemCreatedV1(
        event_id=deterministic_event_id(key, "item.created.v1"),
        source="test",
        correlation_id=key,
        item=ItemRefV1(
            item_id=item.id,
            item_type="incident",
            number=item.number,
            token=item.token,
            project="Support",
            title="Printer",
            status="new",
            account_id="acc1",
        ),
        message=MessageRefV1(
            mail_key=key,
            message_id=f"<{key.replace('/', '.')}@x.test>",
            subject=f"Printer {n}",
            sender=AddressV1(address=sender),
            classification=ClassificationV1(kind="normal", auto_submitted=False),
        ),
    )


def console_session(session_id: str, *, lasts_s: float = 3600) -> ConsoleSession:
    """A signed-in browser's session that ends `lasts_s` from now."""
    now = utcnow().replace(microsecond=0)  # MongoDB keeps milliseconds
    return ConsoleSession(
        id=session_id,
        key_hash="k" * 64,
        csrf="c" * 43,
        created_at=now,
        seen_at=now,
        expires_at=now + timedelta(seconds=lasts_s),
    )
