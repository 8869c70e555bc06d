"""Contract of the console sessions port, on SQLite and on MongoDB (the `store` fixture)."""

from datetime import timedelta

from postroom_shared.models import utcnow
from postroom_shared.store.ports import ConsoleSession, ConsoleSessions


def _session(session_id: str, *, lasts_s: float = 3600) -> ConsoleSession:
    now = utcnow().replace(microsecond=0)  # MongoDB keeps milliseconds
    return ConsoleSession(
        id=session_id,
        key_hash="k" * 64,
        csrf="c" * 43,
        created_at=now,
        seen_at=now,
        expires_at=now + timedelta(seconds=lasts_s),
    )


async def test_put_get_touch_delete(store: ConsoleSessions) -> None:
    session = _session("s1")
    await store.put_session(session)
    assert await store.get_session("s1") == session
    assert await store.get_session("s2") is None
    later = session.seen_at + timedelta(seconds=90)
    assert await store.touch_session("s1", later) is True
    touched = await store.get_session("s1")
    assert touched is not None and touched.seen_at == later
    assert touched.expires_at == session.expires_at and touched.csrf == session.csrf
    assert await store.touch_session("s2", later) is False
    assert await store.delete_session("s1") is True
    assert await store.delete_session("s1") is False
    assert await store.get_session("s1") is None
    assert await store.get_session('{"$ne": null}') is None


async def test_purge_deletes_only_sessions_past_their_end(store: ConsoleSessions) -> None:
    await store.put_session(_session("old", lasts_s=-10))
    await store.put_session(_session("new"))
    assert await store.purge_sessions(expired_before=utcnow()) == 1
    assert await store.get_session("old") is None
    assert await store.get_session("new") is not None
