"""How the fetcher logs in: stored password, or a token whose failures name what to do."""

from typing import Literal

import pytest

from postroom_fetcher.adapters.connection import Credentials
from postroom_fetcher.adapters.credentials import credentials_for
from postroom_fetcher.domain.errors import MailboxError
from postroom_shared.errors import PostroomError, TransientError
from postroom_shared.models import EmailAccount, MailboxSettings, OAuthSettings
from postroom_shared.oauth import OAuthError, ReauthorizationRequired
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("k" * 40)


class Tokens:
    """A token source answering with a fixed token or error (the port, not a server)."""

    def __init__(self, answer: str | PostroomError) -> None:
        self.answer = answer
        self.forgotten: list[str] = []

    async def access_token(
        self, owner: str, provider: Literal["microsoft", "google"], oauth: OAuthSettings
    ) -> str:
        if isinstance(self.answer, PostroomError):
            raise self.answer
        return self.answer

    def forget(self, owner: str) -> None:
        self.forgotten.append(owner)


def _account(provider: str, mechanism: str = "xoauth2") -> EmailAccount:
    return EmailAccount.model_validate(
        {
            "id": "acc",
            "name": "Support",
            "address": "support@example.test",
            "provider": provider,
            "project": "Support",
            "mailbox": MailboxSettings(
                host="imap.example.test",
                port=993,
                username="support@example.test",
                password_enc=BOX.encrypt("pw") if provider == "imap" else None,
            ),
            "oauth": {"client_id": "c", "mechanism": mechanism} if provider != "imap" else None,
        }
    )


async def test_password_accounts_use_the_decrypted_password() -> None:
    found = await credentials_for(_account("imap"), secrets=BOX, tokens=None)
    assert found == Credentials("support@example.test", "pw", "password")
    assert "pw" not in repr(found)


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
async def test_oauth_accounts_use_a_token_and_their_mechanism(mechanism: str) -> None:
    found = await credentials_for(
        _account("microsoft", mechanism), secrets=BOX, tokens=Tokens("tok")
    )
    assert (found.secret, found.mechanism) == ("tok", mechanism)


@pytest.mark.parametrize(
    ("error", "kind", "permanent"),
    [
        (ReauthorizationRequired("consent revoked (invalid_grant)"), "consent_revoked", True),
        (OAuthError("client secret expired (invalid_client)"), "auth", True),
        (TransientError("token endpoint answered 503"), "network", False),
    ],
)
async def test_token_failures_name_their_cause(
    error: PostroomError, kind: str, permanent: bool
) -> None:
    with pytest.raises(MailboxError) as caught:
        await credentials_for(_account("google"), secrets=BOX, tokens=Tokens(error))
    assert (caught.value.kind, caught.value.permanent) == (kind, permanent)
    assert str(error) in str(caught.value)


async def test_oauth_without_a_token_source_is_a_clear_error() -> None:
    with pytest.raises(MailboxError, match="no token source"):
        await credentials_for(_account("microsoft"), secrets=BOX, tokens=None)
