"""The configuration port on SQLite: accounts, settings, templates, workflows, people, API keys,
refresh tokens and OAuth sign-in states.

SMTP settings, workflows and templates share the small `settings` table (id `smtp`,
`workflow:<id>`, `template:<id>`); a person's addresses are rows of `person_emails`, whose
primary key makes an address belong to one person.
"""

import sqlite3
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from postroom_shared.models import (
    ApiKey,
    BounceMark,
    EmailAccount,
    NotificationTemplate,
    Person,
    SmtpSettings,
    Workflow,
    utcnow,
)
from postroom_shared.store.sqlite.base import SqliteBase

__all__ = ["SqliteConfig"]

# A person's addresses, dropped before they are written again; reads the person_id index (a
# scan of every contact's address for each new contact made imports quadratic, issue 15)
_DROP_ADDRESSES = "DELETE FROM person_emails WHERE person_id=?"


class SqliteConfig(SqliteBase):
    """`ConfigStore` on SQLite."""

    # accounts ------------------------------------------------------------------------------
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
        return await self._one(EmailAccount, "SELECT doc FROM accounts WHERE id=?", (account_id,))

    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]:
        sql = (
            "SELECT doc FROM accounts WHERE active=1 ORDER BY name"
            if active_only
            else "SELECT doc FROM accounts ORDER BY name"
        )
        return await self._all(EmailAccount, sql)

    async def delete_account(self, account_id: str) -> bool:
        # Its fetch state goes with it; items, threads and the log stay (they are history).
        def body(db: sqlite3.Connection) -> bool:
            for table in ("account_states", "checkpoints", "seen_keys"):
                # Table names come from the tuple above, never from input.
                db.execute(f"DELETE FROM {table} WHERE account_id=?", (account_id,))  # noqa: S608
            db.execute("DELETE FROM leases WHERE name=?", (f"fetch:{account_id}",))
            return db.execute("DELETE FROM accounts WHERE id=?", (account_id,)).rowcount > 0

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # SMTP settings, workflows, templates ---------------------------------------------------
    async def get_smtp_settings(self) -> SmtpSettings | None:
        return await self._one(SmtpSettings, "SELECT doc FROM settings WHERE id='smtp'")

    async def put_smtp_settings(self, settings: SmtpSettings) -> None:
        await self._put_setting("smtp", settings)

    async def delete_smtp_settings(self) -> bool:
        return await self._changed("DELETE FROM settings WHERE id='smtp'", ())

    async def _put_setting(self, key: str, doc: BaseModel) -> None:
        """SMTP settings, workflows and templates: one small table, keyed `smtp`,
        `workflow:<id>`, `template:<id>`."""
        await self._run(
            lambda db: db.execute(
                "INSERT INTO settings (id, doc) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
                (key, doc.model_dump_json()),
            )
        )

    async def _settings[M: BaseModel](self, model: type[M], prefix: str) -> list[M]:
        sql = "SELECT doc FROM settings WHERE substr(id, 1, ?) = ? ORDER BY id"
        return await self._all(model, sql, (len(prefix), prefix))

    async def put_workflow(self, workflow: Workflow) -> None:
        await self._put_setting(f"workflow:{workflow.id}", workflow)

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        return await self._one(
            Workflow, "SELECT doc FROM settings WHERE id=?", (f"workflow:{workflow_id}",)
        )

    async def list_workflows(self) -> list[Workflow]:
        return await self._settings(Workflow, "workflow:")

    async def delete_workflow(self, workflow_id: str) -> bool:
        return await self._changed("DELETE FROM settings WHERE id=?", (f"workflow:{workflow_id}",))

    async def put_template(self, template: NotificationTemplate) -> None:
        await self._put_setting(f"template:{template.id}", template)

    async def get_template(self, template_id: str) -> NotificationTemplate | None:
        return await self._one(
            NotificationTemplate,
            "SELECT doc FROM settings WHERE id=?",
            (f"template:{template_id}",),
        )

    async def list_templates(self) -> list[NotificationTemplate]:
        return await self._settings(NotificationTemplate, "template:")

    async def delete_template(self, template_id: str) -> bool:
        return await self._changed("DELETE FROM settings WHERE id=?", (f"template:{template_id}",))

    # people and contacts -------------------------------------------------------------------
    @staticmethod
    def _put_person(db: sqlite3.Connection, person: Person) -> None:
        db.execute(_DROP_ADDRESSES, (person.id,))
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

    async def set_bounce(self, person_id: str, mark: BounceMark | None) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT doc FROM people WHERE id=?", (person_id,)).fetchone()
            if row is None:
                return False
            person = Person.model_validate_json(row[0]).model_copy(update={"bounce": mark})
            db.execute("UPDATE people SET doc=? WHERE id=?", (person.model_dump_json(), person_id))
            return True

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def get_person(self, person_id: str) -> Person | None:
        return await self._one(Person, "SELECT doc FROM people WHERE id=?", (person_id,))

    async def list_people(self, *, kind: str | None = None, limit: int = 100) -> list[Person]:
        return await self._all(
            Person,
            "SELECT doc FROM people WHERE (?1 IS NULL OR json_extract(doc, '$.kind') = ?1)"
            " ORDER BY id LIMIT ?2",
            (kind, limit),
        )

    async def delete_person(self, person_id: str) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM person_emails WHERE person_id=?", (person_id,))
            return db.execute("DELETE FROM people WHERE id=?", (person_id,)).rowcount > 0

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # OAuth --------------------------------------------------------------------------------
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
        return await self._changed(sql, args)

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
        return await self._one(ApiKey, "SELECT doc FROM api_keys WHERE key_hash=?", (key_hash,))

    async def list_api_keys(self) -> list[ApiKey]:
        return await self._all(ApiKey, "SELECT doc FROM api_keys ORDER BY id")

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
