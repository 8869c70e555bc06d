"""The OAuth client's shape is defined once (postroom_shared.models.OAuthClient): what an admin
sends (OAuthIn), what is stored (OAuthSettings) and what the API shows (OAuthView) are that
shape plus their own kind of secret, and every client field travels from input to view."""

from typing import Any

from postroom_api.account_config import oauth_settings
from postroom_api.schemas.oauth import OAuthIn, OAuthView
from postroom_shared.models import OAuthClient, OAuthSettings
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("k" * 40)
CLIENT = set(OAuthClient.model_fields)


def test_input_store_and_view_derive_from_the_one_client_shape() -> None:
    for model, secrets in (
        (OAuthIn, {"client_secret", "refresh_token"}),
        (OAuthSettings, {"client_secret_enc", "refresh_token_enc"}),
        (OAuthView, {"client_secret_set", "refresh_token_set"}),
    ):
        assert issubclass(model, OAuthClient)
        assert set(model.model_fields) == CLIENT | secrets, model


def test_every_client_field_travels_from_input_to_the_view() -> None:
    sent: dict[str, Any] = {
        "flow": "client_credentials",
        "client_id": "app-1",
        "tenant": "contoso.example",
        "authority_url": "https://login.example/contoso",
        "token_url": "https://idp.example/token",
        "auth_url": "https://idp.example/auth",
        "scopes": ["https://outlook.office365.com/.default"],
        "redirect_uri": "https://postroom.example/oauth/callback",
        "mechanism": "oauthbearer",
    }
    assert set(sent) == CLIENT  # a new client field must be added here too
    body = OAuthIn.model_validate(
        {**sent, "client_secret": "secret-1", "refresh_token": "refresh-1"}
    )
    stored = oauth_settings(body, None, BOX, loc=("oauth",), changed=[])
    assert stored.client_fields() == sent
    assert BOX.decrypt(stored.client_secret_enc or "") == "secret-1"
    assert BOX.decrypt(stored.refresh_token_enc or "") == "refresh-1"
    view = OAuthView.of(stored).model_dump()
    assert view == {**sent, "client_secret_set": True, "refresh_token_set": True}
    assert "secret-1" not in str(view) and "refresh-1" not in str(view)
