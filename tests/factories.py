"""Small builders shared by tests."""

import hashlib

from postroom_shared.contracts import MailReceivedV1, deterministic_event_id
from postroom_shared.models import EmailAccount, MailboxSettings, ThreadMessage

__all__ = ["EmailAccount", "account", "mail_received", "thread_message"]


def account(account_id: str = "acc1", address: str = "support@example.test") -> EmailAccount:
    return EmailAccount(
        id=account_id,
        name="Support",
        address=address,
        project="Support",
        mailbox=MailboxSettings(host="h", port=143, username=address),
    )


def mail_received(mail_key: str, raw: bytes) -> MailReceivedV1:
    """The event the fetcher publishes for `raw`, keyed `<account>/<folder>/<uidvalidity>/<uid>`."""
    account_id, folder, uidvalidity, uid = mail_key.split("/")
    return MailReceivedV1(
        event_id=deterministic_event_id(mail_key, "mail.received.v1"),
        source="test",
        correlation_id=mail_key,
        account_id=account_id,
        mail_key=mail_key,
        folder=folder,
        uidvalidity=int(uidvalidity),
        uid=int(uid),
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        raw_inline=raw,
    )


def thread_message(item_id: str, key: str = "in-1") -> ThreadMessage:
    """A first inbound message for an item created directly in a test."""
    return ThreadMessage(key=f"{item_id}/{key}", item_id=item_id, account_id="acc1", direction="in")
