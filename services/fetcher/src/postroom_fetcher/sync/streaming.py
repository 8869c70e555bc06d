"""Mail over the inline limit goes from the mailbox into the blob store piece by piece.

Holding a whole mail of up to `max_mail_bytes` in memory, for every mail of a batch and every
account fetching at once, is what made the fetcher run out of memory, and a crash there
repeated after every restart because the checkpoint never advanced. Here a large mail is
downloaded in pieces (IMAP partial FETCH, POP3 RETR read incrementally), each written to a
blob writer that hashes as it goes, so a mail costs one piece of memory, not its size. Only
its header block (capped) is kept, for the dedupe key.

The server's size is trusted for planning, not for safety: a mail that turns out larger than
the account's limit while it streams is dropped and fails like a mail the server could not
hand out (strikes, then quarantine), instead of filling the disk.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.domain.errors import mailbox_error
from postroom_fetcher.domain.plan import header_block
from postroom_fetcher.sync.hooks import CrashHook, no_crash
from postroom_shared.ingest import store_stream
from postroom_shared.store import StoredBlob
from postroom_shared.store.ports import BlobStore

__all__ = ["HEAD_CAP", "MailBody", "Streamed", "stream_to_blob"]

HEAD_CAP = 256 * 1024  # header blocks longer than this are cut (Message-ID dedupe still works)


class MailBody(Protocol):
    """One mail being downloaded (blocking calls, run on the account's thread)."""

    def read(self) -> bytes | None:
        """The next piece; b"" at the end, None when the mail vanished from the server."""
        ...

    def discard(self) -> None:
        """Skip the rest, leaving the connection ready for the next command."""
        ...


@dataclass(frozen=True)
class Streamed:
    blob: StoredBlob
    headers: bytes  # the mail's header block, at most HEAD_CAP bytes


class _Vanished(Exception):
    pass


async def stream_to_blob(
    store: BlobStore,
    run: AccountThread,
    body: MailBody,
    *,
    limit: int,
    what: str,
    crash: CrashHook = no_crash,
) -> Streamed | None:
    """Store the mail `body` reads as a blob; None when it vanished meanwhile (nothing is
    stored then). A mail over `limit` bytes raises a `protocol` MailboxError naming `what`."""
    head = bytearray()

    async def pieces() -> AsyncIterator[bytes]:
        size = 0
        while piece := await run(body.read):
            size += len(piece)
            if size > limit:
                await run(body.discard)
                raise mailbox_error(
                    f"{what} is larger than the server said: over {limit} bytes, the limit",
                    kind="protocol",
                    permanent=False,
                )
            if len(head) < HEAD_CAP and b"\r\n\r\n" not in head and b"\n\n" not in head:
                head.extend(piece[: HEAD_CAP - len(head)])
            yield piece
            crash("mid_stream")
        if piece is None:
            raise _Vanished

    try:
        blob = await store_stream(store, pieces())
    except _Vanished:
        return None
    return Streamed(blob=blob, headers=header_block(bytes(head)))
