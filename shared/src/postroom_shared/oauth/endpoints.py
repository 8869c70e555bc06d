"""Where the identity providers are, and how far to trust them: the installation-wide part of
the OAuth configuration (per-account `OAuthSettings` URLs override it). Every endpoint is https:
they receive client secrets, codes and refresh tokens."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from postroom_shared.settings import CommonSettings

__all__ = ["HTTPS_URL", "OAuthEndpoints"]

HTTPS_URL = r"^https://[^\s/]+(/\S*)?$"
_Https = Annotated[str, StringConstraints(pattern=HTTPS_URL)]


class OAuthEndpoints(BaseModel):
    model_config = ConfigDict(frozen=True)

    microsoft_authority: _Https = Field(
        default="https://login.microsoftonline.com",
        description="Authority host; the account's tenant is appended.",
    )
    google_auth_url: _Https = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: _Https = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    ca_bundle: str | None = Field(
        default=None, description="PEM CAs to trust instead of the default store (tests)."
    )
    timeout_s: float = Field(default=30.0, gt=0)

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> "OAuthEndpoints":
        # each field is the setting of the same name with the oauth_ prefix (POSTROOM_OAUTH_*)
        return cls(**{name: getattr(settings, f"oauth_{name}") for name in cls.model_fields})
