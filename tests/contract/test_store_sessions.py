"""Contract of the console sessions port, on SQLite and on MongoDB (the `store` fixture); their
purge is the retention cleanup's (tests/contract/test_store_retention.py)."""

from datetime import timedelta

from postroom_shared.store.ports import ConsoleSessions
from tests.factories import console_session


async def test_put_get_touch_delete(store: ConsoleSessions) -> None:
    session = console_session("s1")
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
