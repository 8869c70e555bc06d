"""Mail the server cannot hand out: it must not block the mailbox for ever.

Some servers fail one message every time: Dovecot answers IMAP `* BYE FETCH failed: Internal
error` (and closes the connection) or POP3 `-ERR Message 2 expunged.` for a message file it
cannot read. A download failing with such a server-side error gives each message it asked for
a strike (seen keys `strikes:<folder>` or `strikes:pop3`, `<message id>/<n>`, where the id is
`<uidvalidity>/<uid>` or the UIDL; `sync/strikes.py` keeps them in the store). Struck IMAP UIDs
are then downloaded one by one, so the next failure is pinned on one mail. A mail with
`POISON_STRIKES` strikes is quarantined as unreadable (a placeholder header block names it),
left on the server untouched, and the checkpoint moves on. Network failures never strike.
"""

__all__ = [
    "POISON_STRIKES",
    "POP3_STRIKES_NAMESPACE",
    "imap_strike_id",
    "strike_keys",
    "strike_namespace",
    "unreadable_headers",
    "unreadable_reason",
]

POISON_STRIKES = 3
POP3_STRIKES_NAMESPACE = "strikes:pop3"


def strike_namespace(folder: str) -> str:
    """Where an IMAP folder's strikes are kept (POP3: `POP3_STRIKES_NAMESPACE`)."""
    return f"strikes:{folder}"


def imap_strike_id(uidvalidity: int, uid: int) -> str:
    """An IMAP message's id in its folder's strikes: a new UIDVALIDITY starts afresh."""
    return f"{uidvalidity}/{uid}"


def strike_keys(message_id: str) -> list[str]:
    """The seen keys that record one message's strikes, one per strike."""
    return [f"{message_id}/{n}" for n in range(1, POISON_STRIKES + 1)]


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
