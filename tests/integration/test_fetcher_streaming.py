"""`stream_to_blob` on a real SQLite blob store, with scripted mail bodies for what a real
server will not do on request: send more than the size it announced, lose a mail half-way.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.sync.streaming import stream_to_blob
from postroom_shared.store import Store


class ScriptedBody:
    """A mail body that hands out the given pieces (None: the mail vanished)."""

    def __init__(self, *pieces: bytes | None) -> None:
        self.pieces = list(pieces)
        self.discarded = False

    def read(self) -> bytes | None:
        return self.pieces.pop(0) if self.pieces else b""

    def discard(self) -> None:
        self.discarded = True
        self.pieces = []


@pytest.fixture
def run() -> Iterator[AccountThread]:
    thread = AccountThread("streaming-test")
    yield thread
    thread.shutdown()


def _blob_files(sqlite_url: str) -> list[Path]:
    root = Path(sqlite_url.removeprefix("sqlite:///")).parent / "blobs"
    return sorted(root.rglob("*")) if root.exists() else []


async def test_pieces_become_one_blob_and_the_headers_are_kept(
    sqlite_store: Store, run: AccountThread
) -> None:
    body = ScriptedBody(b"Subject: x\r\nMessage-ID: <a@b>\r\n", b"\r\nhello ", b"world\r\n")
    stored = await stream_to_blob(sqlite_store, run, body, limit=1000, what="UID 1")
    raw = b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nhello world\r\n"
    assert stored is not None
    assert stored.headers == b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\n"
    assert (stored.blob.size, await sqlite_store.get_blob(stored.blob.ref)) == (len(raw), raw)


async def test_a_mail_larger_than_announced_is_refused_and_nothing_stored(
    sqlite_store: Store, sqlite_url: str, run: AccountThread
) -> None:
    body = ScriptedBody(b"Subject: x\r\n\r\n" + b"a" * 100, b"b" * 100, b"c" * 100, b"d" * 100)
    with pytest.raises(MailboxError, match="UID 9 is larger than the server said") as raised:
        await stream_to_blob(sqlite_store, run, body, limit=250, what="UID 9")
    assert raised.value.kind == "protocol"  # counted as a strike against this mail
    assert body.discarded  # the rest was read, so a POP3 session can go on
    assert [p for p in _blob_files(sqlite_url) if p.is_file()] == []


async def test_a_mail_that_vanishes_midway_leaves_nothing(
    sqlite_store: Store, sqlite_url: str, run: AccountThread
) -> None:
    body = ScriptedBody(b"Subject: x\r\n\r\npart one", None)
    assert await stream_to_blob(sqlite_store, run, body, limit=1000, what="UID 3") is None
    assert [p for p in _blob_files(sqlite_url) if p.is_file()] == []
