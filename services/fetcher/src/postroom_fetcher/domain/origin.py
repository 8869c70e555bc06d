"""Where one mail came from, as its events and its quarantine entry name it.

The mail key is the mail's identity across retries and restarts: (account, folder, UIDVALIDITY,
UID) for IMAP, (account, UIDL) for POP3, the hash of the bytes for mail an MTA pushed. The
converter drops a second mail with a key it has seen, so every path that can see one mail twice
(a crash before the checkpoint, an MTA retrying after a timeout) must name it alike.
"""

from dataclasses import dataclass
from typing import TypedDict

from postroom_shared.ingest import imap_mail_key, push_mail_key

__all__ = ["EventFields", "Origin", "pop3_mail_key"]


def pop3_mail_key(account_id: str, uidl: str) -> str:
    """POP3 has no UIDVALIDITY/UID; the server's unique id (UIDL) is stable per mail."""
    return f"{account_id}/pop3/{uidl}"


class EventFields(TypedDict):
    """How `mail.received.v1` names a mail and where it came from (`postroom_shared.ingest`)."""

    account_id: str
    mail_key: str
    source: str
    folder: str
    uidvalidity: int | None
    uid: int | None


@dataclass(frozen=True)
class Origin:
    account_id: str
    mail_key: str
    folder: str = "INBOX"
    uidvalidity: int | None = None
    uid: int | None = None

    @classmethod
    def imap(cls, account_id: str, folder: str, uidvalidity: int, uid: int) -> "Origin":
        key = imap_mail_key(account_id, folder, uidvalidity, uid)
        return cls(account_id, key, folder=folder, uidvalidity=uidvalidity, uid=uid)

    @classmethod
    def pop3(cls, account_id: str, uidl: str) -> "Origin":
        return cls(account_id, pop3_mail_key(account_id, uidl))

    @classmethod
    def push(cls, account_id: str, raw: bytes) -> "Origin":
        return cls(account_id, push_mail_key(account_id, raw))

    def event_fields(self, source: str) -> EventFields:
        """The fields its events carry; `source` names the service that read it."""
        return EventFields(
            account_id=self.account_id,
            mail_key=self.mail_key,
            source=source,
            folder=self.folder,
            uidvalidity=self.uidvalidity,
            uid=self.uid,
        )
