"""What the config API asks of a mailbox before and after activating it: its folder list, how
many messages activation would import, a connection test, and "fetch now" (README,
"Administration over the API"). Other services reach these through `ops.py`.

Each call opens its own short connection (read-only where possible) and raises
`MailboxError` naming the cause; "fetch now" is a flag in the store that whichever fetcher
replica holds the account's lease picks up at once when the API's hint reaches it (see
`postroom_api.announcing_store`), within `wake_check_s` otherwise.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from postroom_fetcher.domain.errors import mailbox_error
from postroom_fetcher.domain.leases import FETCH_NOW_KEY, FETCH_NOW_NAMESPACE
from postroom_fetcher.domain.plan import UIDL_NAMESPACE, scan_from
from postroom_fetcher.store import ProbeStore
from postroom_shared.models import EmailAccount
from postroom_shared.secretbox import SecretBox

if TYPE_CHECKING:
    from postroom_fetcher.adapters.credentials import AccessTokens
    from postroom_fetcher.adapters.mailbox import Mailbox
    from postroom_fetcher.adapters.threads import AccountThread

__all__ = ["count_waiting", "list_folders", "request_fetch_now", "test_connection"]


async def _with_mailbox[T](
    account: EmailAccount,
    *,
    secrets: SecretBox,
    tokens: "AccessTokens | None",
    timeout_s: float,
    ca_file: str | None,
    use: Callable[["Mailbox", "AccountThread"], Awaitable[T]],
) -> T:
    # The mailbox adapters (imapclient, poplib: about 1.3 MB) load with the first probe: the
    # API imports this module through ops.py and most API processes never probe a mailbox.
    from postroom_fetcher.adapters.mailbox import MailboxAccess
    from postroom_fetcher.adapters.threads import AccountThread

    if account.provider == "push":
        raise mailbox_error(
            f"account {account.name!r} receives pushed mail; it has no mailbox to read",
            kind="protocol",
            permanent=True,
        )
    run = AccountThread(f"probe-{account.id}")
    access = MailboxAccess(secrets, tokens, timeout_s=timeout_s, ca_file=ca_file)
    mailbox = await access.new(account)

    async def session() -> T:
        await run(mailbox.connect)
        return await use(mailbox, run)

    try:
        return await asyncio.wait_for(session(), timeout=timeout_s * 2)
    except TimeoutError as exc:
        mailbox.abort()
        raise mailbox_error(
            f"mailbox {account.box.host}:{account.box.port} did not answer within"
            f" {timeout_s * 2:.0f} s",
            kind="network",
            permanent=False,
        ) from exc
    finally:
        run.submit(mailbox.close)
        run.shutdown()


async def list_folders(
    account: EmailAccount,
    *,
    secrets: SecretBox,
    tokens: "AccessTokens | None",
    timeout_s: float = 30.0,
    ca_file: str | None = None,
) -> list[str]:
    """The account's selectable folders, decoded (POP3 has only the INBOX)."""

    async def use(mailbox: "Mailbox", run: "AccountThread") -> list[str]:
        from postroom_fetcher.adapters.pop3 import Pop3Mailbox  # loaded: _with_mailbox did

        if isinstance(mailbox, Pop3Mailbox):
            return ["INBOX"]
        return await run(mailbox.list_folders)

    return await _with_mailbox(
        account, secrets=secrets, tokens=tokens, timeout_s=timeout_s, ca_file=ca_file, use=use
    )


async def count_waiting(
    account: EmailAccount,
    *,
    store: ProbeStore,
    secrets: SecretBox,
    tokens: "AccessTokens | None",
    timeout_s: float = 30.0,
    ca_file: str | None = None,
) -> int:
    """How many messages the fetcher would import now (all of them before the first fetch)."""

    async def use(mailbox: "Mailbox", run: "AccountThread") -> int:
        from postroom_fetcher.adapters.pop3 import Pop3Mailbox  # loaded: _with_mailbox did

        if isinstance(mailbox, Pop3Mailbox):
            listing = await run(mailbox.listing)
            uidls = [m.uidl for m in listing]
            seen = await store.seen_keys(account.id, UIDL_NAMESPACE, uidls)
            return sum(1 for uidl in uidls if uidl not in seen)
        uidvalidity, _ = await run(mailbox.select, account.folder, readonly=True)
        scan = scan_from(await store.get_checkpoint(account.id, account.folder), uidvalidity)
        return len(await run(mailbox.uids_after, scan.after_uid))

    return await _with_mailbox(
        account, secrets=secrets, tokens=tokens, timeout_s=timeout_s, ca_file=ca_file, use=use
    )


async def test_connection(
    account: EmailAccount,
    *,
    secrets: SecretBox,
    tokens: "AccessTokens | None",
    timeout_s: float = 30.0,  # noqa: PT028
    ca_file: str | None = None,  # noqa: PT028
) -> None:
    """Connect, log in and open the folder; raises `MailboxError` naming what failed."""

    async def use(mailbox: "Mailbox", run: "AccountThread") -> None:
        from postroom_fetcher.adapters.pop3 import Pop3Mailbox  # loaded: _with_mailbox did

        if isinstance(mailbox, Pop3Mailbox):
            await run(mailbox.count)
        else:
            await run(mailbox.select, account.folder, readonly=True)

    await _with_mailbox(
        account, secrets=secrets, tokens=tokens, timeout_s=timeout_s, ca_file=ca_file, use=use
    )


async def request_fetch_now(store: ProbeStore, account_id: str) -> None:
    """Ask the fetcher replica that holds the account to fetch it at once."""
    await store.add_seen_keys(account_id, FETCH_NOW_NAMESPACE, [FETCH_NOW_KEY])
