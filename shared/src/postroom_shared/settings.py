"""Settings shared by every service, read from `POSTROOM_*` environment variables.

Only the `__main__` of a service builds a settings object; library code receives values.
Secrets are `SecretStr` so they never end up in a log line or a repr.
"""

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from postroom_shared.broker_addresses import broker_addresses
from postroom_shared.broker_settings import BrokerSettings
from postroom_shared.store.ports import StoreOptions

__all__ = ["CommonSettings"]


class CommonSettings(BrokerSettings):
    """What every Postroom process needs: where the store and broker are, and the secret key."""

    model_config = SettingsConfigDict(env_prefix="POSTROOM_", extra="ignore", frozen=True)

    store_url: Annotated[
        str,
        Field(
            description="sqlite:////abs/path/postroom.db (embedded) or mongodb://host/db",
            examples=["sqlite:////var/lib/postroom/postroom.db", "mongodb://mongo:27017/postroom"],
        ),
    ]
    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ AMQP URL, or the URLs of every node of a RabbitMQ cluster,"
        " comma-separated: a process connects to the first that answers and moves to the next"
        " when its node goes away, without a restart.",
        examples=["amqp://u:p@rabbit-0:5672/,amqp://u:p@rabbit-1:5672/,amqp://u:p@rabbit-2:5672/"],
    )
    secret_key: SecretStr = Field(
        description="At least 32 characters; derives the key that encrypts stored secrets and"
        " signs Postroom's own Message-IDs. Changing it invalidates both.",
    )
    secret_keys_old: SecretStr = Field(
        default=SecretStr(""),
        description="Previous POSTROOM_SECRET_KEY values, comma-separated, during a key rotation:"
        " stored secrets encrypted with them still decrypt; `postroom rotate-secrets`"
        " re-encrypts them with the current key (docs/security.md).",
    )
    instance: str = Field(
        default="postroom",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Name of this installation, written into the X-Postroom-Loop header.",
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    heartbeat_interval_s: float = Field(default=5.0, gt=0, le=60)
    config_cache_ttl_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="Services keep configuration read for every mail (accounts, workflows, SMTP"
        " settings, templates) this long; a change through the API reaches them at once, this"
        " bounds staleness when that hint is lost. 0: read the store every time.",
    )
    # OAuth 2.0 identity providers (postroom_shared.oauth); per-account settings override the
    # URLs. The defaults are the public Microsoft and Google endpoints.
    oauth_microsoft_authority: str = Field(
        default="https://login.microsoftonline.com",
        pattern=r"^https://[^\s/]+(/[^\s]*)?$",
        description="Microsoft authority host (the account's tenant is appended); https only.",
    )
    oauth_google_auth_url: str = Field(
        default="https://accounts.google.com/o/oauth2/v2/auth",
        pattern=r"^https://[^\s/]+(/\S*)?$",
        description="Google authorisation endpoint; https only.",
    )
    oauth_google_token_url: str = Field(
        default="https://oauth2.googleapis.com/token",
        pattern=r"^https://[^\s/]+(/\S*)?$",
        description="Google token endpoint (it receives the client secret and refresh tokens);"
        " https only.",
    )
    oauth_ca_bundle: str | None = Field(
        default=None,
        description="PEM file of the CAs trusted for the identity providers (instead of the"
        " default store; REQUESTS_CA_BUNDLE is ignored when this is set).",
    )
    oauth_timeout_s: float = Field(default=30.0, gt=0, le=300)

    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of a service's Prometheus /metrics; unset: the service's default"
        " (fetcher 9101, converter 9102, replier 9103), 0: off. The API serves /metrics on its"
        " own port.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the services' /metrics servers bind."
    )

    # Store: time bounds of every call, and retention (postroom_shared.retention; the API
    # runs the cleanup every `retention_interval_s`, `postroom cleanup` runs it once).
    store_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest a store call may take (MongoDB timeoutMS, SQLite busy wait);"
        " then it fails as transient and is retried later.",
    )
    store_blob_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, description="Longest one blob upload or download may take."
    )
    store_small_blob_max_bytes: int = Field(
        default=262_144,
        ge=0,
        le=8_388_608,
        description="Raw mail and attachments up to this size are kept inside the database"
        " (one row or document) rather than as a file or in GridFS; 0: every blob outside.",
    )
    store_connect_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="MongoDB connection handshake bound."
    )
    store_server_selection_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long MongoDB calls wait for a server when the URL turns the call"
        " bound off (timeoutMS=0); otherwise the call bound covers it.",
    )
    retention_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="How often the API runs the cleanup; 0: never (run `postroom cleanup`).",
    )
    retention_log_days: float = Field(default=30.0, ge=1, description="Processing log.")
    retention_sends_days: float = Field(
        default=30.0,
        ge=8,
        description="Automatic-mail history; at least 8: the rate windows and RFC 3834's"
        " once-per-7-days rule read it.",
    )
    retention_ledger_days: float = Field(
        default=30.0,
        ge=1,
        description="Reply ledger: an event replayed later than this may send its mail again.",
    )
    retention_quarantine_days: float = Field(default=90.0, ge=1, description="Quarantine.")
    retention_seen_keys_days: float = Field(
        default=90.0,
        ge=7,
        description="Message-ID dedupe keys of accounts that delete mail after reading"
        " (others keep theirs while the mail may still be on the server).",
    )
    retention_blob_grace_days: float = Field(
        default=30.0,
        ge=1,
        description="Unreferenced raw mail and attachments are deleted this long after they"
        " were last stored; replay dead-lettered mail before then.",
    )

    def store_options(self) -> StoreOptions:
        """The store's time bounds from these settings (for `open_store`)."""
        return StoreOptions(
            timeout_s=self.store_timeout_s,
            blob_timeout_s=self.store_blob_timeout_s,
            small_blob_max_bytes=self.store_small_blob_max_bytes,
            connect_timeout_s=self.store_connect_timeout_s,
            server_selection_timeout_s=self.store_server_selection_timeout_s,
        )

    def old_secret_keys(self) -> list[str]:
        """POSTROOM_SECRET_KEYS_OLD split into keys (empty entries ignored)."""
        raw = self.secret_keys_old.get_secret_value()
        return [key.strip() for key in raw.split(",") if key.strip()]

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("POSTROOM_SECRET_KEY must be at least 32 characters long")
        return value

    @field_validator("oauth_ca_bundle")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("broker_url")
    @classmethod
    def _amqp_urls(cls, value: str) -> str:
        broker_addresses(value)  # raises ValueError naming the address that is no AMQP URL
        return value

    @field_validator("store_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "mongodb://", "mongodb+srv://")):
            raise ValueError("POSTROOM_STORE_URL must start with sqlite:/// or mongodb://")
        return value
