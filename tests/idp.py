"""A local OAuth 2.0 / OpenID Connect identity provider for the tests: a real protocol server.

Why: msal, google-auth and Dovecot's oauth2 passdb must be exercised over HTTP exactly as in
production, so this server speaks the protocol the libraries speak, on two listeners that share
one state:

- HTTPS (msal insists on an https authority with a tenant path), Microsoft-style:
  /<tenant>/v2.0/.well-known/openid-configuration, /<tenant>/oauth2/v2.0/authorize and
  /<tenant>/oauth2/v2.0/token;
- Google-style /auth and /token (Postroom takes https endpoints only: the tests use the HTTPS
  listener), and Dovecot's /tokeninfo?access_token= and POST /introspect over plain HTTP
  (`email` + `active` "true"/"false", 401 for unknown tokens).

Grants: authorization_code (PKCE S256/plain verified; registered clients require it),
refresh_token with ROTATION (the old refresh token then gives invalid_grant) and
client_credentials. Confidential clients authenticate with client_secret_post or HTTP Basic.

/authorize stands in for the user's browser session: it approves at once and redirects with
code + state, signing in as the `login_hint` (or the client's default user), unless the test
denied that user (then error=access_denied). Test controls: revoke a refresh token or all
tokens of a user, short access-token lifetimes per client, injected 5xx answers, grant counts.
"""

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Client", "IdentityProvider", "idp_running", "make_tls_files"]

_OIDC_DOC = "openid-configuration"


@dataclass
class Client:
    client_id: str
    secret: str | None = None
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect URI
    default_user: str = "alice@example.test"
    app_mailbox: str | None = None  # client_credentials tokens act for this mailbox
    token_lifetime_s: int = 3600
    require_pkce: bool = True
    fail_next: list[int] = field(default_factory=list)  # statuses the token endpoint answers


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    challenge: str | None
    method: str
    nonce: str | None
    offline: bool
    expires: float


@dataclass
class _Refresh:
    client_id: str
    user: str
    scope: str
    active: bool = True


@dataclass
class _Access:
    client_id: str
    user: str
    scope: str
    expires: float
    active: bool = True


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it, as
    (ca.pem, cert.pem, key.pem). A real CA (not a self-signed leaf) so that strict X.509
    verification (Python 3.13's default flags) accepts the chain."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Postroom test IdP CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class IdentityProvider:
    """The IdP's state and its two listeners. Thread-safe: handlers run in server threads."""

    def __init__(self, *, http_port: int, https_port: int, state_dir: Path) -> None:
        self.http_port, self.https_port = http_port, https_port
        self.ca_file, self._cert, self._key = make_tls_files(state_dir)
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}
        self._denied: set[str] = set()
        self._grants: Counter[tuple[str, str]] = Counter()
        self.validations: Counter[str] = Counter()  # tokeninfo/introspect calls by path
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []

    # URLs --------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def authority(self, tenant: str = "postroom-test") -> str:
        """The Microsoft-style authority base (msal adds the tenant itself via the settings)."""
        return f"{self.https_url}/{tenant}"

    @property
    def google_auth_url(self) -> str:
        return f"{self.https_url}/auth"

    @property
    def google_token_url(self) -> str:
        return f"{self.https_url}/token"

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        handler = _handler_for(self)
        plain = ThreadingHTTPServer(("127.0.0.1", self.http_port), handler)
        tls = _TlsServer(("127.0.0.1", self.https_port), handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self._cert, self._key)
        tls.ssl_context = ctx
        for server in (plain, tls):
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    # test controls -----------------------------------------------------------------------
    def register_client(
        self,
        *,
        secret: str | None = None,
        redirect_uris: tuple[str, ...] = (),
        default_user: str = "alice@example.test",
        app_mailbox: str | None = None,
        token_lifetime_s: int = 3600,
        require_pkce: bool = True,
    ) -> Client:
        client = Client(
            client_id=f"client-{secrets.token_hex(6)}",
            secret=secret,
            redirect_uris=redirect_uris,
            default_user=default_user,
            app_mailbox=app_mailbox,
            token_lifetime_s=token_lifetime_s,
            require_pkce=require_pkce,
        )
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def deny(self, user: str) -> None:
        """The user declines consent at /authorize from now on (error=access_denied)."""
        with self._lock:
            self._denied.add(user.lower())

    def set_token_lifetime(self, client_id: str, seconds: int) -> None:
        with self._lock:
            self._clients[client_id].token_lifetime_s = seconds

    def fail_token_requests(self, client_id: str, *statuses: int) -> None:
        """The next token requests of this client get these HTTP statuses (e.g. 503)."""
        with self._lock:
            self._clients[client_id].fail_next.extend(statuses)

    def revoke_refresh_token(self, refresh_token: str) -> None:
        with self._lock:
            self._refresh[refresh_token].active = False

    def revoke_user(self, user: str, client_id: str | None = None) -> None:
        """Consent withdrawn: every refresh and access token of the user (of one client, or
        of all) stops working."""
        user = user.lower()
        with self._lock:
            grants: list[_Refresh | _Access] = [*self._refresh.values(), *self._access.values()]
            for grant in grants:
                if grant.user == user and client_id in (None, grant.client_id):
                    grant.active = False

    def grants(self, client_id: str) -> Counter[str]:
        """Successful token grants of a client, by grant type."""
        with self._lock:
            return Counter({g: n for (c, g), n in self._grants.items() if c == client_id})

    def live_refresh_tokens(self, client_id: str) -> list[str]:
        with self._lock:
            return [t for t, r in self._refresh.items() if r.client_id == client_id and r.active]

    def issue_access_token(self, user: str, *, lifetime_s: int = 3600) -> str:
        """An access token minted directly (for SASL tests that do not care how it came)."""
        token = f"at-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._access[token] = _Access("direct", user.lower(), "mail", time.time() + lifetime_s)
        return token

    def revoke_access_token(self, token: str) -> None:
        with self._lock:
            self._access[token].active = False

    # protocol ----------------------------------------------------------------------------
    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.https_url}/{tenant}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["none"],
        }

    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """(status, Location or error text) for an authorisation request."""
        with self._lock:
            client = self._clients.get(params.get("client_id", ""))
            redirect_uri = params.get("redirect_uri", "")
            if client is None:
                return 400, "unknown client_id"
            if not redirect_uri or (
                client.redirect_uris and redirect_uri not in client.redirect_uris
            ):
                return 400, "redirect_uri is not registered for this client"
            back: dict[str, str] = {}
            if "state" in params:
                back["state"] = params["state"]
            user = (params.get("login_hint") or client.default_user).lower()
            challenge = params.get("code_challenge")
            method = params.get("code_challenge_method", "plain")
            if params.get("response_type") != "code":
                back |= {"error": "unsupported_response_type"}
            elif client.require_pkce and not challenge:
                back |= {"error": "invalid_request", "error_description": "PKCE required"}
            elif method not in ("S256", "plain"):
                back |= {"error": "invalid_request", "error_description": "bad PKCE method"}
            elif user in self._denied:
                back |= {"error": "access_denied", "error_description": "The user declined."}
            else:
                code = f"code-{secrets.token_urlsafe(24)}"
                scope = params.get("scope", "")
                self._codes[code] = _Code(
                    client_id=client.client_id,
                    redirect_uri=redirect_uri,
                    scope=scope,
                    user=user,
                    challenge=challenge,
                    method=method,
                    nonce=params.get("nonce"),
                    offline="offline_access" in scope.split()
                    or params.get("access_type") == "offline",
                    expires=time.time() + 300,
                )
                back["code"] = code
        sep = "&" if "?" in redirect_uri else "?"
        return 302, redirect_uri + sep + urlencode(back)

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        with self._lock:
            client_id = basic[0] if basic else form.get("client_id", "")
            client = self._clients.get(client_id)
            if client is None:
                raise _OAuthError(401, "invalid_client", "unknown client")
            if client.fail_next:
                status = client.fail_next.pop(0)
                raise _OAuthError(status, "server_error", "injected failure")
            given = basic[1] if basic else form.get("client_secret")
            if client.secret is not None and given != client.secret:
                raise _OAuthError(401, "invalid_client", "AADSTS7000215: invalid client secret")
            grant_type = form.get("grant_type", "")
            if grant_type == "authorization_code":
                result = self._code_grant(client, form)
            elif grant_type == "refresh_token":
                result = self._refresh_grant(client, form)
            elif grant_type == "client_credentials":
                if client.secret is None or client.app_mailbox is None:
                    raise _OAuthError(400, "unauthorized_client", "no app-only access")
                result = self._tokens(client, client.app_mailbox, form.get("scope", ""), False)
            else:
                raise _OAuthError(400, "unsupported_grant_type", grant_type)
            self._grants[(client.client_id, grant_type)] += 1
            return result

    def _code_grant(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.client_id != client.client_id or code.expires < time.time():
            raise _OAuthError(400, "invalid_grant", "AADSTS70008: the code is invalid or used")
        if form.get("redirect_uri") != code.redirect_uri:
            raise _OAuthError(400, "invalid_grant", "redirect_uri does not match")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            expected = (
                _b64url(hashlib.sha256(verifier.encode()).digest())
                if code.method == "S256"
                else verifier
            )
            if not verifier or not secrets.compare_digest(expected, code.challenge):
                raise _OAuthError(400, "invalid_grant", "PKCE verification failed")
        result = self._tokens(client, code.user, code.scope, code.offline)
        if "openid" in code.scope.split():
            result["id_token"] = self._id_token(client, code.user, code.nonce)
            result["client_info"] = _b64url(
                json.dumps({"uid": _uid(code.user), "utid": "postroom-test"}).encode()
            )
        return result

    def _refresh_grant(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        old = form.get("refresh_token", "")
        grant = self._refresh.get(old)
        if grant is None or grant.client_id != client.client_id or not grant.active:
            raise _OAuthError(
                400, "invalid_grant", "AADSTS50173: the refresh token was revoked or rotated"
            )
        grant.active = False  # rotation: the old refresh token is spent
        return self._tokens(client, grant.user, grant.scope, True)

    def _tokens(self, client: Client, user: str, scope: str, offline: bool) -> dict[str, Any]:
        access = f"at-{secrets.token_urlsafe(24)}"
        lifetime = client.token_lifetime_s
        self._access[access] = _Access(client.client_id, user, scope, time.time() + lifetime)
        result: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "scope": " ".join(s for s in scope.split() if s not in ("openid", "profile")),
        }
        if offline:
            refresh = f"rt-{secrets.token_urlsafe(24)}"
            self._refresh[refresh] = _Refresh(client.client_id, user, scope)
            result["refresh_token"] = refresh
        return result

    def _id_token(self, client: Client, user: str, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": f"{self.https_url}/postroom-test/v2.0",
            "aud": client.client_id,
            "sub": _uid(user),
            "oid": _uid(user),
            "tid": "postroom-test",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "preferred_username": user,
            "email": user,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64url(json.dumps(claims).encode())}."

    def validate(self, token: str, path: str) -> tuple[int, dict[str, str]]:
        """Dovecot's tokeninfo/introspection answer (INFRA §3)."""
        with self._lock:
            self.validations[path] += 1
            grant = self._access.get(token)
            if grant is None:
                return 401, {"error": "invalid_token"}
            live = grant.active and grant.expires > time.time()
            return 200, {
                "email": grant.user,
                "active": "true" if live else "false",
                "scope": "mail",
            }


def _uid(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:32]


class _TlsServer(ThreadingHTTPServer):
    """HTTPS whose handshake runs in the handler thread, so a stuck client cannot block
    accept()."""

    ssl_context: ssl.SSLContext

    def get_request(self) -> tuple[socket, Any]:
        sock, addr = super().get_request()
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes of clients that do not trust the CA are expected in tests


def _handler_for(idp: IdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any] | str, **headers: str) -> None:
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(status)
            ctype = "application/json" if isinstance(body, dict) else "text/plain"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _query(self) -> tuple[list[str], dict[str, str]]:
            parts = urlsplit(self.path)
            return [p for p in parts.path.split("/") if p], _flat(parts.query)

        def do_GET(self) -> None:
            segments, params = self._query()
            if len(segments) == 4 and segments[1:] == ["v2.0", ".well-known", _OIDC_DOC]:
                self._send(200, idp.openid_configuration(segments[0]))
            elif segments[-3:] == ["oauth2", "v2.0", "authorize"] or segments == ["auth"]:
                status, where = idp.authorize(params)
                if status == 302:
                    self._send(302, "", Location=where)
                else:
                    self._send(status, where)
            elif segments == ["tokeninfo"]:
                status, body = idp.validate(params.get("access_token", ""), "tokeninfo")
                self._send(status, body)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            segments, _ = self._query()
            length = int(self.headers.get("Content-Length") or 0)
            form = _flat(self.rfile.read(length).decode())
            if segments[-3:] == ["oauth2", "v2.0", "token"] or segments == ["token"]:
                try:
                    self._send(200, idp.token(form, _basic(self.headers.get("Authorization"))))
                except _OAuthError as exc:
                    body = {"error": exc.error, "error_description": exc.description}
                    self._send(exc.status, body if exc.status < 500 else "upstream failure")
            elif segments == ["introspect"]:
                token = form.get("token") or _bearer(self.headers.get("Authorization"))
                status, body = idp.validate(token, "introspect")
                self._send(status, body)
            else:
                self._send(404, {"error": "not_found"})

    return Handler


def _flat(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)


def _bearer(header: str | None) -> str:
    if header and header.lower().startswith("bearer "):
        return header[7:]
    return ""


def idp_running(*, http_port: int, https_port: int, state_dir: Path) -> Iterator[IdentityProvider]:
    """Start an IdP, yield it, stop it (the body of the `idp` fixture)."""
    idp = IdentityProvider(http_port=http_port, https_port=https_port, state_dir=state_dir)
    idp.start()
    try:
        yield idp
    finally:
        idp.stop()
