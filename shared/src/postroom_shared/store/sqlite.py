"""The embedded store: one SQLite database in WAL mode shared by the services of one machine.

Every call runs on one dedicated thread per process (sqlite3 connections are not for sharing
across threads, and the event loop must not block on disk). Writes that must be atomic run as
short `BEGIN IMMEDIATE` transactions; `busy_timeout` lets the four processes take turns, and
bounds the wait: a call that cannot get the lock in `StoreOptions.timeout_s` raises
`StoreUnavailableError`. Documents are stored as JSON next to the few columns that are looked
up. Retention purges live in `sqlite_retention.py`.
"""

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from postroom_shared.models import (
    AccountState,
    ApiKey,
    Checkpoint,
    EmailAccount,
    Item,
    ItemType,
    LedgerEntry,
    NotificationTemplate,
    Person,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
    SmtpSettings,
    ThreadMessage,
    Workflow,
    utcnow,
)
from postroom_shared.store.blobs import BlobWriter
from postroom_shared.store.blobs_fs import FileBlobs, ThreadedBlobWriter
from postroom_shared.store.ports import (
    ItemChanges,
    ItemQuery,
    OutboxEvent,
    StoreOptions,
    StoreUnavailableError,
)
from postroom_shared.store.sqlite_retention import (
    RETENTION_SCHEMA,
    SqliteRetention,
    message_blob_rows,
    migrate,
)

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (account_id TEXT NOT NULL, folder TEXT NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (account_id, folder));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, item_type TEXT NOT NULL,
    number INTEGER NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL,
    UNIQUE (item_type, number));
CREATE INDEX IF NOT EXISTS items_created ON items (created_at DESC);
CREATE TABLE IF NOT EXISTS messages (key TEXT PRIMARY KEY, item_id TEXT NOT NULL,
    account_id TEXT NOT NULL, message_id TEXT NOT NULL, created_at TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_item ON messages (item_id, created_at);
CREATE INDEX IF NOT EXISTS messages_mid ON messages (account_id, message_id);
CREATE TABLE IF NOT EXISTS outbox (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL,
    routing_key TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (item_id TEXT NOT NULL, reason TEXT NOT NULL,
    recipient TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (item_id, reason, recipient));
CREATE TABLE IF NOT EXISTS quarantine (id TEXT PRIMARY KEY, created_at TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processing_log (id TEXT PRIMARY KEY, account_id TEXT NOT NULL,
    mail_key TEXT NOT NULL, at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS processing_log_at ON processing_log (at DESC);
CREATE INDEX IF NOT EXISTS processing_log_mail ON processing_log (mail_key);
CREATE TABLE IF NOT EXISTS people (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS person_emails (email TEXT PRIMARY KEY, person_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sends (recipient TEXT NOT NULL, at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sends_recipient_at ON sends (recipient, at);
CREATE INDEX IF NOT EXISTS sends_at ON sends (at);
CREATE TABLE IF NOT EXISTS heartbeats (service TEXT NOT NULL, instance TEXT NOT NULL,
    seen_at TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (service, instance));
CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_states (account_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL,
    expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen_keys (account_id TEXT NOT NULL, namespace TEXT NOT NULL,
    key TEXT NOT NULL, PRIMARY KEY (account_id, namespace, key));
"""
# What SQLite says when the busy timeout ran out (another process held the lock throughout).
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")


def _iso(value: datetime) -> str:
    return value.isoformat()


class SqliteStore(SqliteRetention):
    """`Store` on one SQLite file plus a blob directory beside it."""

    def __init__(self, path: str, options: StoreOptions | None = None) -> None:
        self._path = Path(path)
        self._options = options or StoreOptions()
        self._blobs = FileBlobs(self._path.parent / "blobs")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            raise RuntimeError("store is not connected")
        try:
            return fn(self._db)
        except sqlite3.OperationalError as exc:
            if any(words in str(exc) for words in _BUSY_WORDS):
                raise StoreUnavailableError(f"SQLite stayed locked: {exc}") from exc
            raise

    @staticmethod
    def _tx[T](db: sqlite3.Connection, body: Callable[[], T]) -> T:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        def open_db() -> None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            timeout_s = self._options.timeout_s
            db = sqlite3.connect(self._path, timeout=timeout_s, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout={round(timeout_s * 1000)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.executescript(RETENTION_SCHEMA)
            migrate(db)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, open_db)

    async def close(self) -> None:
        def close_db() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close_db)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    # configuration -------------------------------------------------------------------------
    async def put_account(self, account: EmailAccount) -> None:
        def put(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO accounts (id, name, active, doc) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
                    " active=excluded.active, doc=excluded.doc",
                    (account.id, account.name, int(account.active), account.model_dump_json()),
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"an account named {account.name!r} already exists") from exc

        await self._run(put)

    async def get_account(self, account_id: str) -> EmailAccount | None:
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM accounts WHERE id=?", (account_id,)).fetchone()
        )
        return EmailAccount.model_validate_json(row[0]) if row else None

    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]:
        sql = (
            "SELECT doc FROM accounts WHERE active=1 ORDER BY name"
            if active_only
            else "SELECT doc FROM accounts ORDER BY name"
        )
        rows = await self._run(lambda db: db.execute(sql).fetchall())
        return [EmailAccount.model_validate_json(row[0]) for row in rows]

    async def get_smtp_settings(self) -> SmtpSettings | None:
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM settings WHERE id='smtp'").fetchone()
        )
        return SmtpSettings.model_validate_json(row[0]) if row else None

    async def put_smtp_settings(self, settings: SmtpSettings) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO settings (id, doc) VALUES ('smtp', ?)"
                " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
                (settings.model_dump_json(),),
            )
        )

    async def put_workflow(self, workflow: Workflow) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO settings (id, doc) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
                (f"workflow:{workflow.id}", workflow.model_dump_json()),
            )
        )

    async def put_template(self, template: NotificationTemplate) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO settings (id, doc) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
                (f"template:{template.id}", template.model_dump_json()),
            )
        )

    async def get_template(self, template_id: str) -> NotificationTemplate | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM settings WHERE id=?", (f"template:{template_id}",)
            ).fetchone()
        )
        return NotificationTemplate.model_validate_json(row[0]) if row else None

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM settings WHERE id=?", (f"workflow:{workflow_id}",)
            ).fetchone()
        )
        return Workflow.model_validate_json(row[0]) if row else None

    @staticmethod
    def _put_person(db: sqlite3.Connection, person: Person) -> None:
        db.execute("DELETE FROM person_emails WHERE person_id=?", (person.id,))
        try:
            for address in person.emails:
                db.execute(
                    "INSERT INTO person_emails (email, person_id) VALUES (?, ?)",
                    (address, person.id),
                )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"an address of {person.id} belongs to another person") from exc
        db.execute(
            "INSERT INTO people (id, doc) VALUES (?, ?)"
            " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
            (person.id, person.model_dump_json()),
        )

    async def put_person(self, person: Person) -> None:
        await self._run(lambda db: self._tx(db, lambda: self._put_person(db, person)))

    @staticmethod
    def _find_person(db: sqlite3.Connection, address: str) -> Person | None:
        row = db.execute(
            "SELECT p.doc FROM person_emails e JOIN people p ON p.id = e.person_id WHERE e.email=?",
            (address.lower(),),
        ).fetchone()
        return Person.model_validate_json(row[0]) if row else None

    async def find_person(self, address: str) -> Person | None:
        return await self._run(lambda db: self._find_person(db, address))

    async def ensure_contact(self, person: Person) -> Person:
        def body(db: sqlite3.Connection) -> Person:
            existing = self._find_person(db, person.emails[0])
            if existing is not None:
                return existing
            self._put_person(db, person)
            return person

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # checkpoints ---------------------------------------------------------------------------
    async def get_checkpoint(self, account_id: str, folder: str) -> Checkpoint | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM checkpoints WHERE account_id=? AND folder=?", (account_id, folder)
            ).fetchone()
        )
        return Checkpoint.model_validate_json(row[0]) if row else None

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO checkpoints (account_id, folder, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(account_id, folder) DO UPDATE SET doc=excluded.doc",
                (checkpoint.account_id, checkpoint.folder, checkpoint.model_dump_json()),
            )
        )

    # blobs ---------------------------------------------------------------------------------
    async def put_blob(self, data: bytes) -> str:
        def put() -> str:
            # `touch` renews a blob that was there already, so the collector keeps it; it
            # fails only when the collector took it in between, and then it is stored again.
            for _ in range(3):
                ref = self._blobs.put(data)
                if self._blobs.touch(ref):
                    return ref
            raise StoreUnavailableError("a blob vanished three times while it was stored")

        return await asyncio.to_thread(put)

    async def open_blob_writer(self) -> BlobWriter:
        return ThreadedBlobWriter(await asyncio.to_thread(self._blobs.writer))

    async def get_blob(self, ref: str) -> bytes:
        return await asyncio.to_thread(self._blobs.get, ref)

    # items ---------------------------------------------------------------------------------
    async def next_item_number(self, item_type: ItemType) -> int:
        def bump(db: sqlite3.Connection) -> int:
            row = db.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1)"
                " ON CONFLICT(name) DO UPDATE SET value=value+1 RETURNING value",
                (f"item:{item_type.value}",),
            ).fetchone()
            return int(row[0])

        return await self._run(bump)

    async def item_for_mail(self, mail_key: str) -> Item | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT i.doc FROM messages m JOIN items i ON i.id = m.item_id WHERE m.key=?",
                (mail_key,),
            ).fetchone()
        )
        return Item.model_validate_json(row[0]) if row else None

    @staticmethod
    def _insert_message(db: sqlite3.Connection, message: ThreadMessage) -> bool:
        """Insert in the caller's transaction; False when the key is there already."""
        cur = db.execute(
            "INSERT INTO messages (key, item_id, account_id, message_id, created_at, doc)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
            (
                message.key,
                message.item_id,
                message.account_id,
                message.message_id,
                _iso(message.created_at),
                message.model_dump_json(),
            ),
        )
        if cur.rowcount != 1:
            return False
        db.executemany(
            "INSERT OR IGNORE INTO message_blobs (ref, message_key) VALUES (?, ?)",
            message_blob_rows(message),
        )
        return True

    @staticmethod
    def _insert_events(db: sqlite3.Connection, events: list[OutboxEvent]) -> None:
        for event in events:
            db.execute(
                "INSERT INTO outbox (event_id, seq, routing_key, body) VALUES"
                " (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox), ?, ?)"
                " ON CONFLICT(event_id) DO NOTHING",
                (event.event_id, event.routing_key, event.body),
            )

    async def insert_item(
        self, item: Item, message: ThreadMessage, events: list[OutboxEvent]
    ) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            if not self._insert_message(db, message):
                return False
            db.execute(
                "INSERT INTO items (id, item_type, number, created_at, doc) VALUES (?, ?, ?, ?, ?)",
                (
                    item.id,
                    item.item_type.value,
                    item.number,
                    _iso(item.created_at),
                    item.model_dump_json(),
                ),
            )
            self._insert_events(db, events)
            return True

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def append_message(
        self,
        item_id: str,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        add_participants: list[str],
        count: bool = True,
        changes: ItemChanges | None = None,
    ) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT doc FROM items WHERE id=?", (item_id,)).fetchone()
            if row is None:
                raise KeyError(item_id)
            if not self._insert_message(db, message):
                return False
            item = Item.model_validate_json(row[0])
            for address in add_participants:
                if address not in item.participants:
                    item.participants.append(address)
            item.message_count += 1 if count else 0
            item.updated_at = message.created_at
            if changes is not None:
                item.status = changes.status or item.status
                item.workflow_step = changes.workflow_step or item.workflow_step
                item.bounced += [a for a in changes.bounced if a not in item.bounced]
            db.execute("UPDATE items SET doc=? WHERE id=?", (item.model_dump_json(), item_id))
            self._insert_events(db, events)
            return True

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def _one_item(self, sql: str, args: tuple[Any, ...]) -> Item | None:
        row = await self._run(lambda db: db.execute(sql, args).fetchone())
        return Item.model_validate_json(row[0]) if row else None

    async def get_item(self, item_id: str) -> Item | None:
        return await self._one_item("SELECT doc FROM items WHERE id=?", (item_id,))

    async def find_item_by_number(self, item_type: ItemType, number: int) -> Item | None:
        return await self._one_item(
            "SELECT doc FROM items WHERE item_type=? AND number=?", (item_type.value, number)
        )

    async def find_item_by_message_ids(
        self, account_id: str, message_ids: list[str]
    ) -> Item | None:
        ids = [mid for mid in message_ids if mid][:100]
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        # Only '?' placeholders are interpolated; the values are bound parameters.
        sql = (
            "SELECT i.doc FROM messages m JOIN items i ON i.id = m.item_id"  # noqa: S608
            f" WHERE m.account_id=? AND m.message_id IN ({marks})"
            " ORDER BY m.created_at DESC LIMIT 1"
        )
        return await self._one_item(sql, (account_id, *ids))

    async def list_items(self, *, limit: int = 100) -> list[Item]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM items ORDER BY created_at DESC, number DESC LIMIT ?", (limit,)
            ).fetchall()
        )
        return [Item.model_validate_json(row[0]) for row in rows]

    async def list_messages(self, item_id: str) -> list[ThreadMessage]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM messages WHERE item_id=? ORDER BY created_at, key", (item_id,)
            ).fetchall()
        )
        return [ThreadMessage.model_validate_json(row[0]) for row in rows]

    # outbox --------------------------------------------------------------------------------
    async def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT event_id, routing_key, body FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        )
        return [OutboxEvent(event_id=r[0], routing_key=r[1], body=r[2]) for r in rows]

    async def mark_published(self, event_id: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM outbox WHERE event_id=?", (event_id,)))

    # ledger --------------------------------------------------------------------------------
    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM ledger WHERE item_id=? AND reason=? AND recipient=?",
                (item_id, reason, recipient),
            ).fetchone()
        )
        return LedgerEntry.model_validate_json(row[0]) if row else None

    async def claim_ledger(
        self, entry: LedgerEntry, *, stale_before: datetime
    ) -> Literal["claimed", "done", "busy"]:
        key = (entry.item_id, entry.reason, entry.recipient)

        def body(db: sqlite3.Connection) -> Literal["claimed", "done", "busy"]:
            row = db.execute(
                "SELECT doc FROM ledger WHERE item_id=? AND reason=? AND recipient=?", key
            ).fetchone()
            if row is not None:
                held = LedgerEntry.model_validate_json(row[0])
                if held.state != "sending":
                    return "done"
                if held.claimed_at >= stale_before:
                    return "busy"
            db.execute(
                "INSERT INTO ledger (item_id, reason, recipient, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(item_id, reason, recipient) DO UPDATE SET doc=excluded.doc",
                (*key, entry.model_dump_json()),
            )
            return "claimed"

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None:
        sent = entry.model_copy(update={"state": state, "sent_at": entry.sent_at or utcnow()})
        await self._run(
            lambda db: db.execute(
                "UPDATE ledger SET doc=? WHERE item_id=? AND reason=? AND recipient=?",
                (sent.model_dump_json(), entry.item_id, entry.reason, entry.recipient),
            )
        )

    # quarantine and processing log --------------------------------------------------------
    async def put_quarantine(self, entry: QuarantineEntry) -> None:
        def put(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT doc FROM quarantine WHERE id=?", (entry.id,)).fetchone()
            doc = entry
            if row is not None:
                old = QuarantineEntry.model_validate_json(row[0])
                doc = entry.model_copy(
                    update={"attempts": old.attempts + 1, "created_at": old.created_at}
                )
            db.execute(
                "INSERT INTO quarantine (id, created_at, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
                (doc.id, _iso(doc.created_at), doc.model_dump_json()),
            )

        await self._run(lambda db: self._tx(db, lambda: put(db)))

    async def get_quarantine(self, entry_id: str) -> QuarantineEntry | None:
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM quarantine WHERE id=?", (entry_id,)).fetchone()
        )
        return QuarantineEntry.model_validate_json(row[0]) if row else None

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantineEntry]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM quarantine ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        )
        return [QuarantineEntry.model_validate_json(row[0]) for row in rows]

    async def delete_quarantine(self, entry_id: str) -> bool:
        cur = await self._run(
            lambda db: db.execute("DELETE FROM quarantine WHERE id=?", (entry_id,))
        )
        return cur.rowcount == 1

    async def put_log(self, entry: ProcessingLogEntry) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO processing_log (id, account_id, mail_key, at, doc)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                (
                    entry.id,
                    entry.account_id,
                    entry.mail_key,
                    _iso(entry.at),
                    entry.model_dump_json(),
                ),
            )
        )

    async def list_log(
        self,
        *,
        account_id: str | None = None,
        mail_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[ProcessingLogEntry]:
        # Fixed statement; a NULL parameter disables its filter.
        args = (
            account_id,
            mail_key,
            _iso(since) if since else None,
            _iso(until) if until else None,
            limit,
        )
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM processing_log WHERE (?1 IS NULL OR account_id = ?1)"
                " AND (?2 IS NULL OR mail_key = ?2) AND (?3 IS NULL OR at >= ?3)"
                " AND (?4 IS NULL OR at < ?4) ORDER BY at DESC, id LIMIT ?5",
                args,
            ).fetchall()
        )
        return [ProcessingLogEntry.model_validate_json(row[0]) for row in rows]

    # automatic mail history --------------------------------------------------------------
    async def record_send(self, record: SendRecord) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO sends (recipient, at, doc) VALUES (?, ?, ?)",
                (record.recipient, _iso(record.at), record.model_dump_json()),
            )
        )

    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM sends WHERE recipient=? AND at >= ? ORDER BY at",
                (recipient, _iso(since)),
            ).fetchall()
        )
        return [SendRecord.model_validate_json(row[0]) for row in rows]

    async def count_sends_since(
        self, since: datetime, *, domain: str | None = None, limit: int
    ) -> int:
        # the window holds at most about the global budget of rows, so filtering the domain
        # row by row stays cheap
        row = await self._run(
            lambda db: db.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM sends WHERE at >= ?1 AND (?2 IS NULL OR"
                " substr(recipient, instr(recipient, '@') + 1) = ?2) LIMIT ?3)",
                (_iso(since), domain.lower() if domain else None, limit),
            ).fetchone()
        )
        return int(row[0])

    async def account_sends_since(
        self, account_id: str, since: datetime, *, limit: int
    ) -> list[SendRecord]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM sends WHERE at >= ? AND json_extract(doc, '$.account_id') = ?"
                " ORDER BY at LIMIT ?",
                (_iso(since), account_id, limit),
            ).fetchall()
        )
        return [SendRecord.model_validate_json(row[0]) for row in rows]

    # health --------------------------------------------------------------------------------
    async def heartbeat(self, beat: ServiceHeartbeat) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO heartbeats (service, instance, seen_at, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(service, instance) DO UPDATE SET seen_at=excluded.seen_at,"
                " doc=excluded.doc",
                (beat.service, beat.instance, _iso(beat.seen_at), beat.model_dump_json()),
            )
        )

    async def heartbeats(self, *, since: datetime) -> list[ServiceHeartbeat]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM heartbeats WHERE seen_at >= ?", (_iso(since),)
            ).fetchall()
        )
        return [ServiceHeartbeat.model_validate_json(row[0]) for row in rows]

    # configuration: listing and deleting ---------------------------------------------------
    async def _delete(self, sql: str, args: tuple[Any, ...]) -> bool:
        cur = await self._run(lambda db: db.execute(sql, args))
        return cur.rowcount > 0

    async def delete_smtp_settings(self) -> bool:
        return await self._delete("DELETE FROM settings WHERE id='smtp'", ())

    async def delete_account(self, account_id: str) -> bool:
        # Its fetch state goes with it; items, threads and the log stay (they are history).
        def body(db: sqlite3.Connection) -> bool:
            for table in ("account_states", "checkpoints", "seen_keys"):
                # Table names come from the tuple above, never from input.
                db.execute(f"DELETE FROM {table} WHERE account_id=?", (account_id,))  # noqa: S608
            db.execute("DELETE FROM leases WHERE name=?", (f"fetch:{account_id}",))
            return db.execute("DELETE FROM accounts WHERE id=?", (account_id,)).rowcount > 0

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def _settings_docs(self, prefix: str) -> list[str]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM settings WHERE substr(id, 1, ?) = ? ORDER BY id",
                (len(prefix), prefix),
            ).fetchall()
        )
        return [row[0] for row in rows]

    async def list_workflows(self) -> list[Workflow]:
        return [Workflow.model_validate_json(d) for d in await self._settings_docs("workflow:")]

    async def delete_workflow(self, workflow_id: str) -> bool:
        return await self._delete("DELETE FROM settings WHERE id=?", (f"workflow:{workflow_id}",))

    async def list_templates(self) -> list[NotificationTemplate]:
        docs = await self._settings_docs("template:")
        return [NotificationTemplate.model_validate_json(d) for d in docs]

    async def delete_template(self, template_id: str) -> bool:
        return await self._delete("DELETE FROM settings WHERE id=?", (f"template:{template_id}",))

    async def get_person(self, person_id: str) -> Person | None:
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM people WHERE id=?", (person_id,)).fetchone()
        )
        return Person.model_validate_json(row[0]) if row else None

    async def list_people(self, *, kind: str | None = None, limit: int = 100) -> list[Person]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM people WHERE (?1 IS NULL OR json_extract(doc, '$.kind') = ?1)"
                " ORDER BY id LIMIT ?2",
                (kind, limit),
            ).fetchall()
        )
        return [Person.model_validate_json(row[0]) for row in rows]

    async def delete_person(self, person_id: str) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM person_emails WHERE person_id=?", (person_id,))
            return db.execute("DELETE FROM people WHERE id=?", (person_id,)).rowcount > 0

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        # json_set inside one UPDATE: a concurrent edit of other fields is never overwritten.
        if owner == "smtp":
            sql = "UPDATE settings SET doc = json_set(doc, '$.oauth.refresh_token_enc', ?)"
            sql += " WHERE id='smtp' AND json_type(doc, '$.oauth') = 'object'"
            args: tuple[Any, ...] = (refresh_token_enc,)
        else:
            sql = "UPDATE accounts SET doc = json_set(doc, '$.oauth.refresh_token_enc', ?)"
            sql += " WHERE id=? AND json_type(doc, '$.oauth') = 'object'"
            args = (refresh_token_enc, owner)
        return await self._delete(sql, args)

    # items: filtered listing ---------------------------------------------------------------
    async def query_items(self, query: ItemQuery) -> list[Item]:
        q = query
        before_at, before_id = (_iso(q.before[0]), q.before[1]) if q.before else (None, None)
        args = (
            q.account_id,
            q.item_type.value if q.item_type else None,
            q.status,
            q.project,
            q.requester.lower() if q.requester else None,
            q.requester,
            q.text.lower() if q.text else None,
            before_at,
            before_id,
            q.limit,
        )
        # One fixed statement: every filter is a bound parameter that NULL switches off.
        sql = (
            "SELECT doc FROM items WHERE (?1 IS NULL OR json_extract(doc, '$.account_id') = ?1)"
            " AND (?2 IS NULL OR item_type = ?2)"
            " AND (?3 IS NULL OR json_extract(doc, '$.status') = ?3)"
            " AND (?4 IS NULL OR json_extract(doc, '$.project') = ?4)"
            " AND (?5 IS NULL OR lower(json_extract(doc, '$.requester.address')) = ?5"
            "      OR json_extract(doc, '$.requester_id') = ?6)"
            " AND (?7 IS NULL OR instr(lower(json_extract(doc, '$.title')), ?7) > 0)"
            " AND (?8 IS NULL OR created_at < ?8 OR (created_at = ?8 AND id < ?9))"
            " ORDER BY created_at DESC, id DESC LIMIT ?10"
        )
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [Item.model_validate_json(row[0]) for row in rows]

    async def count_quarantine(self) -> int:
        row = await self._run(lambda db: db.execute("SELECT count(*) FROM quarantine").fetchone())
        return int(row[0])

    # API keys ------------------------------------------------------------------------------
    async def put_api_key(self, key: ApiKey) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO api_keys (id, key_hash, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET key_hash=excluded.key_hash, doc=excluded.doc",
                (key.id, key.key_hash, key.model_dump_json()),
            )
        )

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM api_keys WHERE key_hash=?", (key_hash,)
            ).fetchone()
        )
        return ApiKey.model_validate_json(row[0]) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        rows = await self._run(
            lambda db: db.execute("SELECT doc FROM api_keys ORDER BY id").fetchall()
        )
        return [ApiKey.model_validate_json(row[0]) for row in rows]

    async def revoke_api_key(self, key_id: str) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT doc FROM api_keys WHERE id=?", (key_id,)).fetchone()
            if row is None:
                return False
            key = ApiKey.model_validate_json(row[0])
            if key.revoked_at is not None:
                return False
            revoked = key.model_copy(update={"revoked_at": utcnow()})
            db.execute("UPDATE api_keys SET doc=? WHERE id=?", (revoked.model_dump_json(), key_id))
            return True

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # OAuth sign-in states used (single-use). The table is made here, with the method, and
    # rows past their state's expiry go with each new use (the state is refused by then).
    async def consume_oauth_state(self, state_id: str, expires_at: datetime) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            db.execute(
                "CREATE TABLE IF NOT EXISTS oauth_states"
                " (state_id TEXT PRIMARY KEY, expires_at REAL NOT NULL)"
            )
            db.execute("DELETE FROM oauth_states WHERE expires_at < ?", (time.time(),))
            cur = db.execute(
                "INSERT OR IGNORE INTO oauth_states (state_id, expires_at) VALUES (?, ?)",
                (state_id, expires_at.timestamp()),
            )
            return cur.rowcount == 1

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # fetcher coordination ------------------------------------------------------------------
    async def put_account_state(self, state: AccountState) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO account_states (account_id, doc) VALUES (?, ?)"
                " ON CONFLICT(account_id) DO UPDATE SET doc=excluded.doc",
                (state.account_id, state.model_dump_json()),
            )
        )

    async def get_account_state(self, account_id: str) -> AccountState | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM account_states WHERE account_id=?", (account_id,)
            ).fetchone()
        )
        return AccountState.model_validate_json(row[0]) if row else None

    async def list_account_states(self) -> list[AccountState]:
        rows = await self._run(
            lambda db: db.execute("SELECT doc FROM account_states ORDER BY account_id").fetchall()
        )
        return [AccountState.model_validate_json(row[0]) for row in rows]

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            now = time.time()
            cur = db.execute(
                "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, expires=excluded.expires"
                " WHERE leases.owner = excluded.owner OR leases.expires < ?",
                (name, owner, now + ttl_s, now),
            )
            return cur.rowcount > 0

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def release_lease(self, name: str, owner: str) -> None:
        await self._run(
            lambda db: db.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))
        )

    async def seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> set[str]:
        def body(db: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                # Only '?' placeholders are interpolated; the values are bound parameters.
                rows = db.execute(
                    "SELECT key FROM seen_keys WHERE account_id=? AND namespace=?"  # noqa: S608
                    f" AND key IN ({marks})",
                    (account_id, namespace, *chunk),
                ).fetchall()
                found.update(row[0] for row in rows)
            return found

        return await self._run(body)

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None:
        await self._run(
            lambda db: db.executemany(
                "INSERT INTO seen_keys (account_id, namespace, key, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(account_id, namespace, key, _iso(utcnow())) for key in keys],
            )
        )

    async def prune_seen_keys(self, account_id: str, namespace: str, keep: list[str]) -> int:
        def body(db: sqlite3.Connection) -> int:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (key TEXT PRIMARY KEY)")
            db.execute("DELETE FROM keep_keys")
            db.executemany("INSERT OR IGNORE INTO keep_keys (key) VALUES (?)", [(k,) for k in keep])
            cur = db.execute(
                "DELETE FROM seen_keys WHERE account_id=? AND namespace=?"
                " AND key NOT IN (SELECT key FROM keep_keys)",
                (account_id, namespace),
            )
            db.execute("DELETE FROM keep_keys")
            return cur.rowcount

        return await self._run(lambda db: self._tx(db, lambda: body(db)))
