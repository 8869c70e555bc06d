"""Waiting for new mail with IMAP IDLE (RFC 2177) instead of polling.

The wait is cut into short slices (`idle_check_s`) so a "fetch now" request or a shutdown
is noticed quickly, and IDLE is re-issued before servers drop it (RFC 2177: clients should
re-issue at least every 29 minutes). A dropped connection surfaces as an error from the
next command, and the worker reconnects with backoff; the checkpoint makes the next sync
pick up exactly what arrived meanwhile.
"""

import asyncio
import time
from typing import Literal

from postroom_fetcher.adapters.imap import ImapMailbox
from postroom_fetcher.adapters.threads import AccountThread

__all__ = ["Wake", "idle_until_change"]

Wake = Literal["mail", "wake", "reissue"]


async def idle_until_change(
    mailbox: ImapMailbox,
    run: AccountThread,
    *,
    wake: asyncio.Event,
    reissue_s: float,
    check_s: float,
) -> Wake:
    """IDLE until the server announces mail, `wake` is set, or it is time to re-issue IDLE;
    leaves IDLE before returning (the caller then syncs on the same connection)."""
    await run(mailbox.idle_start)
    started = time.monotonic()
    reason: Wake = "reissue"
    while not wake.is_set():
        remaining = reissue_s - (time.monotonic() - started)
        if remaining <= 0:
            break
        woke = await run(mailbox.idle_wait, min(check_s, remaining))
        if woke.new_mail or woke.early:
            reason = "mail"
            break
    else:
        reason = "wake"
    wake.clear()
    await run(mailbox.idle_stop)
    return reason
