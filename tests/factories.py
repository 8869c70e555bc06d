"""Small builders shared by tests."""

from postroom_shared.models import EmailAccount, MailboxSettings

__all__ = ["EmailAccount", "account"]


def account(account_id: str = "acc1", address: str = "support@example.test") -> EmailAccount:
    return EmailAccount(
        id=account_id,
        name="Support",
        address=address,
        project="Support",
        mailbox=MailboxSettings(host="h", port=143, username=address),
    )
