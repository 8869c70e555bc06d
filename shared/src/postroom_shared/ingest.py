"""The one path by which raw mail enters Postroom: polled (fetcher), piped by an MTA
(`postroom deliver`) or posted to the API. All three publish the same `mail.received.v1`.

Raw mail up to `inline_max_bytes` rides in the event; larger mail goes to the blob store first
and travels by reference. A caller that must not hold a large mail in memory streams it into
the blob store (`store_stream`) and publishes the stored blob (`publish_stored_mail`). The
publish waits for the broker's confirm, so a caller that returns normally may delete the mail
at its source.
"""

import hashlib
from collections.abc import AsyncIterable

from faststream.rabbit import RabbitBroker

from postroom_shared.contracts import MailReceivedV1, deterministic_event_id
from postroom_shared.messaging import publish_event
from postroom_shared.store.ports import BlobStore, StoredBlob

__all__ = [
    "imap_mail_key",
    "mail_received_event",
    "publish_raw_mail",
    "publish_stored_mail",
    "push_mail_key",
    "store_stream",
]


def imap_mail_key(account_id: str, folder: str, uidvalidity: int, uid: int) -> str:
    return f"{account_id}/{folder}/{uidvalidity}/{uid}"


def push_mail_key(account_id: str, raw: bytes) -> str:
    """Key of a pushed mail: the hash of its bytes, so an MTA's retry of the same delivery is
    recognised as a duplicate, while two different mails with one Message-ID (it happens) are
    both kept."""
    return f"{account_id}/push/{hashlib.sha256(raw).hexdigest()}"


async def publish_raw_mail(
    store: BlobStore,
    broker: RabbitBroker,
    *,
    account_id: str,
    raw: bytes,
    mail_key: str,
    source: str,
    inline_max_bytes: int,
    folder: str = "INBOX",
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailReceivedV1:
    """Publish `raw` as `mail.received.v1` and return the event once the broker confirmed it."""
    small = len(raw) <= inline_max_bytes
    event = mail_received_event(
        account_id=account_id,
        raw=raw,
        mail_key=mail_key,
        source=source,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        blob_ref=None if small else await store.put_blob(raw),
    )
    await publish_event(broker, event)
    return event


async def store_stream(store: BlobStore, chunks: AsyncIterable[bytes]) -> StoredBlob:
    """Write `chunks` into the blob store as they come; on any failure (or cancellation)
    nothing is left under a blob name."""
    writer = await store.open_blob_writer()
    try:
        async for chunk in chunks:
            await writer.write(chunk)
        return await writer.commit()
    except BaseException:
        await writer.abort()
        raise


async def publish_stored_mail(
    broker: RabbitBroker,
    *,
    account_id: str,
    blob: StoredBlob,
    mail_key: str,
    source: str,
    folder: str = "INBOX",
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailReceivedV1:
    """Publish a mail already in the blob store (by reference) once the broker confirmed it."""
    event = _event(
        account_id=account_id,
        mail_key=mail_key,
        source=source,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        size=blob.size,
        sha256=blob.sha256,
        raw_inline=None,
        blob_ref=blob.ref,
    )
    await publish_event(broker, event)
    return event


def mail_received_event(
    *,
    account_id: str,
    raw: bytes,
    mail_key: str,
    source: str,
    folder: str = "INBOX",
    uidvalidity: int | None = None,
    uid: int | None = None,
    blob_ref: str | None = None,
) -> MailReceivedV1:
    """`mail.received.v1` for `raw`: carried inline, or by `blob_ref` once the caller stored
    the bytes in the blob store. The event id depends on the mail key only, so every path
    that sees one mail names it alike."""
    return _event(
        account_id=account_id,
        mail_key=mail_key,
        source=source,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        raw_inline=raw if blob_ref is None else None,
        blob_ref=blob_ref,
    )


def _event(
    *,
    account_id: str,
    mail_key: str,
    source: str,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    size: int,
    sha256: str,
    raw_inline: bytes | None,
    blob_ref: str | None,
) -> MailReceivedV1:
    return MailReceivedV1(
        event_id=deterministic_event_id(mail_key, "mail.received.v1"),
        source=source,
        correlation_id=mail_key,
        account_id=account_id,
        mail_key=mail_key,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        size=size,
        sha256=sha256,
        raw_inline=raw_inline,
        blob_ref=blob_ref,
    )
