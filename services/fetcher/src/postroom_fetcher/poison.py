"""Mail the server cannot hand out: it must not block the mailbox for ever (SPEC F9).

Some servers fail one message every time: Dovecot answers IMAP `* BYE FETCH failed: Internal
error` (and closes the connection) or POP3 `-ERR Message 2 expunged.` for a message file it
cannot read. A download failing with such a server-side error gives each message it asked for
a strike (seen keys `strikes:<folder>` or `strikes:pop3`, `<message id>/<n>`, where the id is
`<uidvalidity>/<uid>` or the UIDL). Struck IMAP UIDs are then downloaded one by one, so the
next failure is pinned on one mail. A mail with `POISON_STRIKES` strikes is quarantined as
unreadable (a placeholder header block names it), left on the server untouched, and the
checkpoint moves on. Network failures never strike.
"""

from postroom_shared.store import Store

__all__ = [
    "POISON_STRIKES",
    "add_strikes",
    "clear_strikes",
    "count_strikes",
    "unreadable_headers",
    "unreadable_reason",
]

POISON_STRIKES = 3


def _keys(message_id: str) -> list[str]:
    return [f"{message_id}/{n}" for n in range(1, POISON_STRIKES + 1)]


async def count_strikes(
    store: Store, account_id: str, namespace: str, ids: list[str]
) -> dict[str, int]:
    """Strikes per message id (0 for most)."""
    wanted = [key for message_id in ids for key in _keys(message_id)]
    found = await store.seen_keys(account_id, namespace, wanted) if wanted else set()
    return {message_id: sum(key in found for key in _keys(message_id)) for message_id in ids}


async def add_strikes(
    store: Store, account_id: str, namespace: str, ids: list[str], strikes: dict[str, int]
) -> None:
    """One more strike for each of `ids`; `strikes` is updated in place."""
    keys = [
        f"{message_id}/{strikes.get(message_id, 0) + 1}"
        for message_id in ids
        if strikes.get(message_id, 0) < POISON_STRIKES
    ]
    for message_id in ids:
        strikes[message_id] = strikes.get(message_id, 0) + 1
    if keys:
        await store.add_seen_keys(account_id, namespace, keys)


async def clear_strikes(
    store: Store, account_id: str, namespace: str, keep_ids: list[str] | None = None
) -> None:
    """Forget strikes once the mail was handled (all, or all but `keep_ids`)."""
    keep = [key for message_id in keep_ids or [] for key in _keys(message_id)]
    await store.prune_seen_keys(account_id, namespace, keep)


def unreadable_reason(what: str) -> str:
    return (
        f"the mail server failed {POISON_STRIKES} times to hand out {what} (a server-side"
        " error, not the network); it was left on the server untouched and skipped so that"
        " the rest of the mailbox is imported"
    )


def unreadable_headers(where: str) -> bytes:
    return (
        f"X-Postroom-Unreadable: {where}\r\nSubject: (unreadable message: {where})\r\n\r\n"
    ).encode("utf-8", "replace")
