"""The console sessions port on SQLite."""

from datetime import UTC, datetime

from postroom_shared.store.ports.sessions import ConsoleSession
from postroom_shared.store.sqlite.base import SqliteBase, iso

__all__ = ["SqliteSessions"]


class SqliteSessions(SqliteBase):
    """`ConsoleSessions` on SQLite."""

    async def put_session(self, session: ConsoleSession) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO console_sessions (id, expires_at, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET expires_at=excluded.expires_at, doc=excluded.doc",
                (session.id, iso(session.expires_at.astimezone(UTC)), session.model_dump_json()),
            )
        )

    async def get_session(self, session_id: str) -> ConsoleSession | None:
        return await self._one(
            ConsoleSession, "SELECT doc FROM console_sessions WHERE id=?", (session_id,)
        )

    async def touch_session(self, session_id: str, seen_at: datetime) -> bool:
        cur = await self._run(
            lambda db: db.execute(
                "UPDATE console_sessions SET doc=json_set(doc, '$.seen_at', ?) WHERE id=?",
                (iso(seen_at), session_id),
            )
        )
        return cur.rowcount == 1

    async def delete_session(self, session_id: str) -> bool:
        cur = await self._run(
            lambda db: db.execute("DELETE FROM console_sessions WHERE id=?", (session_id,))
        )
        return cur.rowcount == 1
