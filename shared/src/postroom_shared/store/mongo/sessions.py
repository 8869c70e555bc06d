"""The console sessions port on MongoDB."""

from datetime import datetime

from postroom_shared.store.mongo.base import MongoBase, to_doc
from postroom_shared.store.ports.sessions import ConsoleSession

__all__ = ["MongoSessions"]


class MongoSessions(MongoBase):
    """`ConsoleSessions` on MongoDB."""

    async def put_session(self, session: ConsoleSession) -> None:
        doc = to_doc(session, _id=session.id)
        await self._db.console_sessions.replace_one({"_id": session.id}, doc, upsert=True)

    async def get_session(self, session_id: str) -> ConsoleSession | None:
        return await self._find(ConsoleSession, "console_sessions", {"_id": str(session_id)})

    async def touch_session(self, session_id: str, seen_at: datetime) -> bool:
        result = await self._db.console_sessions.update_one(
            {"_id": str(session_id)}, {"$set": {"seen_at": seen_at}}
        )
        return result.matched_count == 1

    async def delete_session(self, session_id: str) -> bool:
        result = await self._db.console_sessions.delete_one({"_id": str(session_id)})
        return result.deleted_count == 1
