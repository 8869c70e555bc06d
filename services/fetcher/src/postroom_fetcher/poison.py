"""Mail the server cannot hand out: it must not block the mailbox for ever (SPEC F9).

Some servers fail one message every time (Dovecot answers `* BYE FETCH failed: Internal error`
for a message file it cannot read, and closes the connection). When a download fails with
such a server-side error, every UID it asked for gets a strike (seen keys
`strikes:<folder>`, `<uidvalidity>/<uid>/<n>`). UIDs with a strike are then downloaded one by
one, so the next failure is pinned on one mail; a mail with `POISON_STRIKES` strikes is
quarantined as unreadable (no headers could be read either: a placeholder block names it),
left on the server untouched, and the checkpoint moves on. Network failures never strike.
"""

from postroom_shared.models import EmailAccount
from postroom_shared.store import Store

__all__ = [
    "POISON_STRIKES",
    "add_strikes",
    "clear_strikes",
    "count_strikes",
    "strike_keys",
    "unreadable_headers",
    "unreadable_reason",
]

POISON_STRIKES = 3


def _namespace(folder: str) -> str:
    return f"strikes:{folder}"


def strike_keys(uidvalidity: int, uid: int) -> list[str]:
    return [f"{uidvalidity}/{uid}/{n}" for n in range(1, POISON_STRIKES + 1)]


async def count_strikes(
    store: Store, account: EmailAccount, uidvalidity: int, uids: list[int]
) -> dict[int, int]:
    """Strikes per UID (0 for most)."""
    wanted = [key for uid in uids for key in strike_keys(uidvalidity, uid)]
    found = (
        await store.seen_keys(account.id, _namespace(account.folder), wanted) if wanted else set()
    )
    return {uid: sum(key in found for key in strike_keys(uidvalidity, uid)) for uid in uids}


async def add_strikes(
    store: Store,
    account: EmailAccount,
    uidvalidity: int,
    uids: list[int],
    strikes: dict[int, int],
) -> None:
    keys = [
        f"{uidvalidity}/{uid}/{strikes.get(uid, 0) + 1}"
        for uid in uids
        if strikes.get(uid, 0) < POISON_STRIKES
    ]
    for uid in uids:
        strikes[uid] = strikes.get(uid, 0) + 1
    if keys:
        await store.add_seen_keys(account.id, _namespace(account.folder), keys)


async def clear_strikes(store: Store, account: EmailAccount) -> None:
    """After the checkpoint passed them, strikes mean nothing any more."""
    await store.prune_seen_keys(account.id, _namespace(account.folder), [])


def unreadable_reason(uid: int) -> str:
    return (
        f"the mail server failed {POISON_STRIKES} times to hand out message UID {uid} (a"
        " server-side error, not the network); it was left on the server untouched and"
        " skipped so that the rest of the mailbox is imported"
    )


def unreadable_headers(account: EmailAccount, uid: int, uidvalidity: int) -> bytes:
    return (
        f"X-Postroom-Unreadable: {account.folder} UIDVALIDITY {uidvalidity} UID {uid}\r\n"
        f"Subject: (unreadable message UID {uid} in {account.folder})\r\n\r\n"
    ).encode("utf-8", "replace")
