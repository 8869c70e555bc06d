"""How the fetcher logs in to a mailbox: the stored password, or an OAuth access token.

Microsoft and Google accounts log in over IMAP with XOAUTH2 or OAUTHBEARER
(`account.oauth.mechanism`); the token comes from an `AccessTokens` source (in production
`postroom_shared.oauth.TokenSource`). A grant that is gone (`ReauthorizationRequired`:
consent revoked, refresh token expired) makes the account `needs_reauth`, not a retry loop;
other OAuth refusals (client secret expired, access denied) are permanent auth errors.
"""

from typing import Literal, Protocol

from postroom_fetcher.adapters.connection import Credentials
from postroom_fetcher.domain.errors import MailboxError, mailbox_error
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import EmailAccount, OAuthSettings
from postroom_shared.oauth import ReauthorizationRequired
from postroom_shared.secretbox import SecretBox

__all__ = ["AccessTokens", "credentials_for"]


class AccessTokens(Protocol):
    """The part of `postroom_shared.oauth.TokenSource` the fetcher uses."""

    async def access_token(
        self, owner: str, provider: Literal["microsoft", "google"], oauth: OAuthSettings
    ) -> str: ...

    def forget(self, owner: str) -> None:
        """Drop a cached token the server refused."""
        ...


async def credentials_for(
    account: EmailAccount, *, secrets: SecretBox, tokens: AccessTokens | None
) -> Credentials:
    box = account.box
    if account.provider not in ("microsoft", "google"):
        password = secrets.decrypt(box.password_enc) if box.password_enc else ""
        return Credentials(box.username, password)
    if account.oauth is None:  # the model forbids it; keep the type checker honest
        raise mailbox_error("account has no OAuth settings", kind="auth", permanent=True)
    if tokens is None:
        raise mailbox_error(
            "OAuth is not configured in this fetcher (no token source)", kind="auth", permanent=True
        )
    try:
        token = await tokens.access_token(account.id, account.provider, account.oauth)
    except MailboxError:
        raise
    except ReauthorizationRequired as exc:
        raise mailbox_error(
            f"OAuth authorisation of {box.username} is no longer valid: {exc}",
            kind="consent_revoked",
            permanent=True,
        ) from exc
    except PermanentError as exc:
        raise mailbox_error(
            f"OAuth sign-in of {box.username} failed: {exc}", kind="auth", permanent=True
        ) from exc
    except (TransientError, OSError) as exc:
        raise mailbox_error(
            f"cannot get an OAuth access token for {box.username}: {exc}",
            kind="network",
            permanent=False,
        ) from exc
    return Credentials(box.username, token, account.oauth.mechanism)
