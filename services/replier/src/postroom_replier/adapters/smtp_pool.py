"""Authenticated SMTP sessions kept open between automatic mails, one small pool per server.

A new session per mail (TCP, greeting, EHLO, STARTTLS, EHLO, AUTH, QUIT) cost the replier more
CPU and round trips than the mail itself. A session is reused for the next mail to the same
target (host, port, security, credentials: a changed SMTP configuration is another target and
gets sessions of its own). No RSET before it: the end of the last mail's data reset the
server's state (RFC 5321 4.1.1.4), and the next MAIL tells as well as an RSET would whether the
server still has us. A session is reused after a refused mail too, once an RSET closed the
transaction the refusal left open (`transact` says so: `SmtpClient.ready`); any other failure
closes it. Sessions idle longer than `idle_s` are closed.

Never two copies: when a reused session turns out dead (the server timed it out, restarted, or
answers 421) before the mail's data was begun, the server cannot have the mail, and it is sent
once more on a fresh session. A failure once the data was begun is raised as it is (a
`TransientError` for network trouble: the ledger's claim then decides, docs/architecture.md).
"""

import asyncio
import contextlib
import dataclasses

import aiosmtplib

from postroom_replier.adapters.smtp import (
    SmtpClient,
    SmtpTarget,
    classified,
    open_session,
    transact,
)
from postroom_replier.domain.wire import OutboundMail
from postroom_shared.logs import get_logger

__all__ = ["SmtpPool"]

log = get_logger(__name__)
_MAX_IDLE = 8  # per target; more concurrent senders than this open and close their own
# A session is retired after this many mails or seconds even while mail keeps it busy: servers
# cap mails per session, and a revoked password or token must stop counting in bounded time.
_MAX_MAILS = 100
_MAX_AGE_S = 300.0


def _key(target: SmtpTarget) -> SmtpTarget:
    # the token getter is a new closure per resolve; the session it authenticated stays valid
    return dataclasses.replace(target, token=None)


def _dead(exc: BaseException) -> bool:
    """A failure that means the session is gone, not that the server refused the mail."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421  # "service not available, closing transmission channel"
    return isinstance(exc, OSError | TimeoutError | aiosmtplib.SMTPServerDisconnected)


class SmtpPool:
    """Open sessions per target, reused across sends; `opened` counts sessions opened."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.opened = 0
        self._idle: dict[SmtpTarget, list[tuple[float, SmtpClient]]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._quitting: set[asyncio.Task[None]] = set()

    async def send(self, message: OutboundMail, target: SmtpTarget) -> str:
        """Send `message` through `target` on a pooled session; the server's final answer."""
        key = _key(target)
        client = self._take(key)
        if client is not None:
            try:
                response = await transact(client, message)
            except Exception as exc:
                if client.data_begun or not _dead(exc):
                    self._settle(key, client)
                    with classified(target):
                        raise
                client.close()
                log.info("pooled SMTP session was gone, sending on a new one", where=target.where)
            else:
                self._give_back(key, client)
                return response
        with classified(target):
            client = await open_session(target)
            self.opened += 1
            try:
                response = await transact(client, message)
            except BaseException:
                self._settle(key, client)
                raise
        self._give_back(key, client)
        return response

    def _settle(self, key: SmtpTarget, client: SmtpClient) -> None:
        """After a failed mail: a session ready for the next one (the server refused the mail)
        goes back to the pool, any other is closed."""
        if client.ready and client.is_connected:
            self._give_back(key, client)
        else:
            client.close()

    async def aclose(self) -> None:
        """Say goodbye on every idle session (at shutdown)."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle = [client for clients in self._idle.values() for _, client in clients]
        self._idle.clear()
        await asyncio.gather(*(_quit(client) for client in idle), *self._quitting)

    def _take(self, key: SmtpTarget) -> SmtpClient | None:
        clients = self._idle.get(key, [])
        now = asyncio.get_running_loop().time()
        while clients:
            since, client = clients.pop()
            if client.is_connected and now - since < self.idle_s:
                return client
            client.close()
        self._idle.pop(key, None)
        return None

    def _give_back(self, key: SmtpTarget, client: SmtpClient) -> None:
        now = asyncio.get_running_loop().time()
        client.mails += 1
        clients = self._idle.setdefault(key, [])
        worn = client.mails >= _MAX_MAILS or now - client.opened_at >= _MAX_AGE_S
        if worn or len(clients) >= _MAX_IDLE or not client.is_connected:
            if not clients:
                del self._idle[key]
            self._retire(client)
            return
        clients.append((now, client))
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap())

    def _retire(self, client: SmtpClient) -> None:
        """QUIT in the background: the mail that used the session is done."""
        task = asyncio.get_running_loop().create_task(_quit(client))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)

    async def _reap(self) -> None:
        """Close sessions idle for `idle_s` (servers time idle clients out anyway, and a
        changed configuration leaves the old target's sessions unused); ends when none is
        left, and starts again with the next session given back."""
        loop = asyncio.get_running_loop()
        try:
            while self._idle:
                oldest = min(
                    (since for clients in self._idle.values() for since, _ in clients),
                    default=loop.time(),
                )
                await asyncio.sleep(max(0.0, oldest + self.idle_s - loop.time()))
                now = loop.time()
                for key, clients in list(self._idle.items()):
                    stale = [c for since, c in clients if now - since >= self.idle_s]
                    clients[:] = [(s, c) for s, c in clients if now - s < self.idle_s]
                    if not clients:
                        del self._idle[key]
                    await asyncio.gather(*(_quit(client) for client in stale))
        finally:
            self._reaper = None


async def _quit(client: SmtpClient) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        await client.quit()
    client.close()
