"""The console's sign-in sessions, stored so that every API replica sees them and signing out
(or a revoked key) ends them everywhere (docs/security.md, "Console").

The session's id is the sha256 of the cookie's random value: what the store holds cannot be
replayed as a cookie. A session names its API key by the key's hash, so each request checks
the key again exactly as the JSON API does (revoked: signed out). Sessions past their end are
deleted by the retention cleanup (`Retention.purge_sessions`).
"""

from datetime import datetime
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["ConsoleSession", "ConsoleSessions"]


class ConsoleSession(BaseModel):
    """One signed-in browser."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(description="sha256 hex of the cookie's value.")
    key_hash: str = Field(description="sha256 hex of the API key it signed in with.")
    csrf: str = Field(description="The token every form and htmx request of it carries.")
    created_at: AwareDatetime
    seen_at: AwareDatetime
    expires_at: AwareDatetime = Field(description="Absolute end, whatever the activity.")


class ConsoleSessions(Protocol):
    async def put_session(self, session: ConsoleSession) -> None:
        """Store a new session (or replace the one with its id)."""
        ...

    async def get_session(self, session_id: str) -> ConsoleSession | None: ...

    async def touch_session(self, session_id: str, seen_at: datetime) -> bool:
        """Record activity; False when the session is gone."""
        ...

    async def delete_session(self, session_id: str) -> bool: ...
