"""The one SQLite schema: the tables of every role, created together when a process connects.

One database holds every role's tables (they share the write lock and the transactions that
span roles, such as deleting an account with its fetch state), so their DDL lives in one place
and `migrate` brings a database made by an older version up to date.
"""

import sqlite3

from postroom_shared.models import ThreadMessage

__all__ = ["RETENTION_SCHEMA", "SCHEMA", "message_blob_rows", "migrate"]

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS item_commands (key TEXT PRIMARY KEY, item_id TEXT NOT NULL,
    at TEXT NOT NULL);
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
CREATE INDEX IF NOT EXISTS person_emails_person ON person_emails (person_id);
CREATE TABLE IF NOT EXISTS sends (recipient TEXT NOT NULL, at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sends_recipient_at ON sends (recipient, at);
CREATE INDEX IF NOT EXISTS sends_at ON sends (at);
CREATE INDEX IF NOT EXISTS sends_domain_at ON sends (substr(recipient, instr(recipient, '@') + 1),
    at);
CREATE TABLE IF NOT EXISTS heartbeats (service TEXT NOT NULL, instance TEXT NOT NULL,
    seen_at TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (service, instance));
CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_states (account_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL,
    expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS seen_keys (account_id TEXT NOT NULL, namespace TEXT NOT NULL,
    key TEXT NOT NULL, PRIMARY KEY (account_id, namespace, key));
CREATE TABLE IF NOT EXISTS console_sessions (id TEXT PRIMARY KEY, expires_at TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS console_sessions_expires ON console_sessions (expires_at);
CREATE TABLE IF NOT EXISTS small_blobs (ref TEXT PRIMARY KEY, stored_at REAL NOT NULL,
    data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS small_blobs_stored ON small_blobs (stored_at, ref);
"""

# Blob references live in JSON documents; `message_blobs` (written with each thread message, in
# the same transaction) and two expression indexes (quarantine and processing log) let the blob
# collector ask "is this blob referenced?" without reading every document.
RETENTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS message_blobs (ref TEXT NOT NULL, message_key TEXT NOT NULL,
    PRIMARY KEY (ref, message_key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sends_at ON sends (at);
CREATE INDEX IF NOT EXISTS quarantine_created ON quarantine (created_at);
CREATE INDEX IF NOT EXISTS heartbeats_seen ON heartbeats (seen_at);
CREATE INDEX IF NOT EXISTS ledger_claimed ON ledger (json_extract(doc, '$.claimed_at'));
CREATE INDEX IF NOT EXISTS quarantine_blob ON quarantine (json_extract(doc, '$.blob_ref'));
CREATE INDEX IF NOT EXISTS processing_log_blob ON processing_log (json_extract(doc, '$.blob_ref'))
    WHERE json_extract(doc, '$.blob_ref') IS NOT NULL;
"""

_SCHEMA_VERSION = 1


def migrate(db: sqlite3.Connection) -> None:
    """Bring a database made by an older version up to date (idempotent, and safe while
    other processes open the same file: one `BEGIN IMMEDIATE` decides who does it)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(seen_keys)")}
        if "at" not in columns:  # when the key was recorded (retention)
            db.execute("ALTER TABLE seen_keys ADD COLUMN at TEXT")
        if db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
            db.execute(
                "INSERT OR IGNORE INTO message_blobs (ref, message_key)"
                " SELECT json_extract(doc, '$.blob_ref'), key FROM messages"
                " WHERE json_extract(doc, '$.blob_ref') IS NOT NULL"
            )
            db.execute(
                "INSERT OR IGNORE INTO message_blobs (ref, message_key)"
                " SELECT json_extract(a.value, '$.blob_ref'), m.key"
                " FROM messages m, json_each(m.doc, '$.attachments') a"
                " WHERE json_extract(a.value, '$.blob_ref') IS NOT NULL"
            )
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def message_blob_rows(message: ThreadMessage) -> list[tuple[str, str]]:
    """(ref, message key) of every blob a thread message references."""
    refs = {message.blob_ref} if message.blob_ref else set()
    refs.update(a.blob_ref for a in message.attachments if a.blob_ref)
    return [(ref, message.key) for ref in sorted(refs)]
