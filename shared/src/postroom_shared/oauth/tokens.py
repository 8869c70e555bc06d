"""Access tokens for IMAP/SMTP logins: cached, refreshed before they expire, and every rotated
refresh token stored at once.

One `TokenSource` per process. Per owner (account id or "smtp") it keeps the last access token
until `refresh_margin_s` (5 min) before its expiry. A refresh always starts from the refresh
token stored NOW (read from the store, not from the caller's possibly older copy of the
settings), because another process (the API's connection test, a second fetcher replica) may
have rotated it meanwhile; identity providers that detect the reuse of a rotated token revoke
the whole grant. If the provider still says invalid_grant, the store is read once more in case
a concurrent rotation landed, then ReauthorizationRequired is raised.

msal and google-auth block, so their calls run in a worker thread.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from postroom_shared.errors import TransientError
from postroom_shared.logs import get_logger
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth.endpoints import OAuthEndpoints
from postroom_shared.oauth.errors import OAuthError, ReauthorizationRequired
from postroom_shared.oauth.owners import describe, stored_oauth
from postroom_shared.secretbox import SecretBox
from postroom_shared.settings import CommonSettings

if TYPE_CHECKING:
    from postroom_shared.oauth.http import IdpSession
from postroom_shared.store.ports import TokenOwners

__all__ = ["TokenSource", "client_secret"]

log = get_logger("postroom.oauth")


@dataclass(frozen=True)
class _Grant:
    access_token: str
    expires_in: float
    refresh_token: str | None = None


@dataclass(frozen=True)
class _Cached:
    token: str
    expires_at: float  # time.monotonic()
    config: tuple[Any, ...]
    refresh_encs: frozenset[str | None]  # refresh-token ciphertexts this token stands for


def client_secret(oauth: OAuthSettings, secrets: SecretBox) -> str | None:
    """The OAuth client's secret in clear (None for a public client)."""
    return secrets.decrypt(oauth.client_secret_enc) if oauth.client_secret_enc else None


def _config(provider: str, oauth: OAuthSettings) -> tuple[Any, ...]:
    return (
        provider,
        oauth.flow,
        oauth.client_id,
        oauth.client_secret_enc,
        oauth.tenant,
        oauth.authority_url,
        oauth.token_url,
        tuple(oauth.scopes),
    )


class TokenSource:
    def __init__(
        self,
        store: TokenOwners,
        secrets: SecretBox,
        endpoints: OAuthEndpoints,
        *,
        refresh_margin_s: float = 300.0,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._endpoints = endpoints
        self._margin = refresh_margin_s
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # msal applications (with their session) per owner: building one costs a discovery
        self._apps: dict[str, tuple[tuple[Any, ...], Any, IdpSession]] = {}
        # rotated refresh tokens we could not store (store down): newest first
        self._unsaved: dict[str, tuple[str, str]] = {}  # owner -> (replaced enc, new enc)

    @classmethod
    def from_settings(cls, store: TokenOwners, settings: CommonSettings) -> "TokenSource":
        """The token source of a service process (`POSTROOM_SECRET_KEY`, `POSTROOM_OAUTH_*`)."""
        return cls(
            store,
            SecretBox.from_settings(settings),
            OAuthEndpoints.from_settings(settings),
        )

    async def access_token(
        self, owner: str, provider: Literal["microsoft", "google"], oauth: OAuthSettings
    ) -> str:
        """A valid access token for `owner`'s mailbox or SMTP login."""
        if provider not in ("microsoft", "google"):
            raise OAuthError(f"provider {provider!r} does not use OAuth")
        lock = self._locks.setdefault(owner, asyncio.Lock())
        async with lock:
            config = _config(provider, oauth)
            cached = self._cache.get(owner)
            if (
                cached is not None
                and cached.config == config
                and (
                    oauth.flow == "client_credentials"
                    or oauth.refresh_token_enc in cached.refresh_encs
                )
                and time.monotonic() < cached.expires_at - self._margin
            ):
                return cached.token
            self._cache.pop(owner, None)
            if oauth.flow == "client_credentials":
                grant = await asyncio.to_thread(self._client_credentials, owner, provider, oauth)
                encs: frozenset[str | None] = frozenset()
            else:
                grant, encs = await self._refresh(owner, provider, oauth)
            self._cache[owner] = _Cached(
                grant.access_token, time.monotonic() + grant.expires_in, config, encs
            )
            return grant.access_token

    def forget(self, owner: str) -> None:
        """Drop the cached access token (e.g. after the server rejected it)."""
        self._cache.pop(owner, None)
        entry = self._apps.pop(owner, None)
        if entry is not None:
            entry[2].close()

    def close(self) -> None:
        for owner in list(self._apps):
            self.forget(owner)

    # refresh-token grant ---------------------------------------------------------------
    async def _current_refresh_enc(self, owner: str, oauth: OAuthSettings) -> str | None:
        stored = await stored_oauth(self._store, owner)
        enc = stored.refresh_token_enc if stored is not None else oauth.refresh_token_enc
        unsaved = self._unsaved.get(owner)
        if unsaved is not None:
            replaced, newer = unsaved
            if enc in (replaced, None):
                return newer
            self._unsaved.pop(owner, None)  # the store moved on without us
        return enc

    async def _refresh(
        self, owner: str, provider: str, oauth: OAuthSettings
    ) -> tuple[_Grant, frozenset[str | None]]:
        enc = await self._current_refresh_enc(owner, oauth)
        if not enc:
            raise ReauthorizationRequired(
                f"{describe(owner)} has no OAuth refresh token yet: run its OAuth sign-in"
            )
        try:
            grant = await asyncio.to_thread(self._refresh_blocking, owner, provider, oauth, enc)
        except ReauthorizationRequired:
            newer = await self._current_refresh_enc(owner, oauth)
            if not newer or newer == enc:
                raise
            enc = newer  # rotated by another process while we were asking
            grant = await asyncio.to_thread(self._refresh_blocking, owner, provider, oauth, enc)
        encs = {enc, oauth.refresh_token_enc}
        if grant.refresh_token and grant.refresh_token != self._secrets.decrypt(enc):
            new_enc = self._secrets.encrypt(grant.refresh_token)
            encs.add(new_enc)
            await self._save_rotated(owner, enc, new_enc)
        return grant, frozenset(encs)

    async def _save_rotated(self, owner: str, replaced: str, new_enc: str) -> None:
        self._unsaved[owner] = (replaced, new_enc)
        try:
            stored = await self._store.set_refresh_token(owner, new_enc)
        except Exception as exc:
            # kept in memory and written with the next refresh; the old token is spent
            log.error("rotated refresh token not stored; will retry", owner=owner, error=repr(exc))
            return
        self._unsaved.pop(owner, None)
        if not stored:
            log.warning("rotated refresh token has no owner to go to", owner=owner)

    def _refresh_blocking(
        self, owner: str, provider: str, oauth: OAuthSettings, enc: str
    ) -> _Grant:
        # the providers' libraries load here, when a token is first needed: a deployment
        # without OAuth accounts never pays their memory (docs/performance.md)
        from postroom_shared.oauth import google, microsoft
        from postroom_shared.oauth.http import IdpSession

        refresh_token = self._secrets.decrypt(enc)
        if provider == "google":
            secret = client_secret(oauth, self._secrets)
            if not secret:
                raise OAuthError(
                    f"{describe(owner)}: Google needs the OAuth client's secret to refresh"
                )
            with IdpSession(self._endpoints) as session:
                refreshed = google.refresh(
                    session,
                    oauth.token_url or self._endpoints.google_token_url,
                    client_id=oauth.client_id,
                    client_secret=secret,
                    refresh_token=refresh_token,
                    owner=owner,
                )
            return _Grant(refreshed.access_token, refreshed.expires_in, refreshed.refresh_token)
        app = self._msal_app(owner, provider, oauth)
        try:
            raw = app.acquire_token_by_refresh_token(
                refresh_token, scopes=microsoft.user_scopes(oauth)
            )
        except microsoft.FAILED_REQUEST as exc:
            raise _transport_error(exc) from exc
        result = microsoft.checked(raw, owner)
        return _Grant(
            str(result["access_token"]),
            float(result.get("expires_in", 3600)),
            result.get("refresh_token"),
        )

    # client credentials ----------------------------------------------------------------
    def _client_credentials(self, owner: str, provider: str, oauth: OAuthSettings) -> _Grant:
        if provider != "microsoft":
            raise OAuthError(
                f"{describe(owner)}: app-only access (client credentials) is supported for"
                " Microsoft only; use the authorisation-code sign-in for Google"
            )
        if not oauth.client_secret_enc:
            raise OAuthError(f"{describe(owner)}: app-only access needs the client secret")
        from postroom_shared.oauth import microsoft

        app = self._msal_app(owner, provider, oauth)
        try:
            raw = app.acquire_token_for_client(scopes=microsoft.app_scopes(oauth))
        except microsoft.FAILED_REQUEST as exc:
            raise _transport_error(exc) from exc
        result = microsoft.checked(raw, owner)
        return _Grant(str(result["access_token"]), float(result.get("expires_in", 3600)))

    def _msal_app(self, owner: str, provider: str, oauth: OAuthSettings) -> Any:
        config = _config(provider, oauth)
        entry = self._apps.get(owner)
        if entry is not None and entry[0] == config:
            return entry[1]
        if entry is not None:
            entry[2].close()
        from postroom_shared.oauth import microsoft
        from postroom_shared.oauth.http import IdpSession

        session = IdpSession(self._endpoints)
        try:
            app = microsoft.new_app(
                oauth, client_secret(oauth, self._secrets), self._endpoints, session
            )
        except BaseException:
            session.close()
            raise
        self._apps[owner] = (config, app, session)
        return app


def _transport_error(exc: Exception) -> TransientError:
    """msal lets network errors and non-JSON answers (a proxy's or an overloaded provider's
    error page) through as exceptions."""
    return TransientError(f"Microsoft token endpoint failed: {exc!r}")
