"""A mailbox of the account's protocol, logged in: what the worker, `poll_once` and the probes
all start from.

`MailboxAccess` holds what opening any account's mailbox needs besides the account (the
secret box for stored passwords, the OAuth token source, the network timeout, an extra CA
bundle), so that callers do not pass those four along separately.
"""

from dataclasses import dataclass

from postroom_fetcher.adapters.credentials import AccessTokens, credentials_for
from postroom_fetcher.adapters.imap import ImapMailbox
from postroom_fetcher.adapters.pop3 import Pop3Mailbox
from postroom_fetcher.adapters.threads import AccountThread
from postroom_shared.models import EmailAccount
from postroom_shared.secretbox import SecretBox

__all__ = ["Mailbox", "MailboxAccess"]

type Mailbox = ImapMailbox | Pop3Mailbox


@dataclass(frozen=True)
class MailboxAccess:
    secrets: SecretBox
    tokens: AccessTokens | None
    timeout_s: float
    ca_file: str | None = None

    async def new(self, account: EmailAccount) -> Mailbox:
        """The account's mailbox with its credentials, not yet connected."""
        credentials = await credentials_for(account, secrets=self.secrets, tokens=self.tokens)
        kind = Pop3Mailbox if account.provider == "pop3" else ImapMailbox
        return kind(account.box, credentials, timeout_s=self.timeout_s, ca_file=self.ca_file)

    async def open(self, account: EmailAccount, run: AccountThread) -> Mailbox:
        """A connected, logged-in mailbox of the account's protocol."""
        mailbox = await self.new(account)
        try:
            await run(mailbox.connect)
        except BaseException:
            mailbox.abort()
            run.submit(mailbox.close)
            raise
        return mailbox
