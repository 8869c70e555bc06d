"""An SMTP server (aiosmtpd) that accepts AUTH XOAUTH2 only and validates each bearer token
at an OAuth tokeninfo endpoint, as a provider's submission server does. Reusable by any test
that sends with `aiosmtplib` `auth_xoauth2` (the replier's XOAUTH2 SMTP settings).

The token is checked like Dovecot does it (INFRA §3): GET <tokeninfo_url><token> must answer
200 with `email` equal to the SASL user and `active` "true". A refused login gets the RFC 7628
JSON error challenge, then 535 after the client's empty reply. MAIL FROM before a successful
AUTH gets 530. Accepted messages are kept in `messages` with the authenticated user.
"""

import asyncio
import base64
import binascii
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

__all__ = ["OAuthSmtpServer", "ReceivedMail", "parse_xoauth2"]


@dataclass(frozen=True)
class ReceivedMail:
    user: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


def parse_xoauth2(blob: bytes) -> tuple[str, str]:
    """(user, token) from a decoded XOAUTH2 initial response; ValueError when malformed."""
    fields = dict(
        part.split("=", 1) for part in blob.decode().split("\x01") if part and "=" in part
    )
    auth = fields.get("auth", "")
    if "user" not in fields or not auth.startswith("Bearer "):
        raise ValueError("not an XOAUTH2 response")
    return fields["user"], auth.removeprefix("Bearer ")


class _Handler:
    def __init__(self, owner: "OAuthSmtpServer") -> None:
        self._owner = owner

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        try:
            blob = (
                base64.b64decode(args[1], validate=True)
                if len(args) > 1
                else await server.challenge_auth("")
            )
            if not isinstance(blob, bytes):
                return AuthResult(success=False)
            user, token = parse_xoauth2(blob)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Can't decode XOAUTH2 response")
            return AuthResult(success=False, handled=True)
        if await asyncio.to_thread(self._owner.token_valid_for, token, user):
            self._owner.logins.append(user)
            return AuthResult(success=True, auth_data=user)
        error = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
        await server.challenge_auth(json.dumps(error))  # the client answers with an empty line
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and token not accepted"
        )

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self._owner.messages.append(
            ReceivedMail(
                user=str(session.auth_data),
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=content,
            )
        )
        return "250 OK queued"


class OAuthSmtpServer:
    def __init__(self, *, port: int, tokeninfo_url: str) -> None:
        """`tokeninfo_url` ends where the token is appended, e.g.
        http://127.0.0.1:16180/tokeninfo?access_token="""
        self.port = port
        self.tokeninfo_url = tokeninfo_url
        self.messages: list[ReceivedMail] = []
        self.logins: list[str] = []
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=port,
            auth_require_tls=False,  # a test server without TLS; else AUTH is not offered
            auth_exclude_mechanism=["PLAIN", "LOGIN"],
        )

    def token_valid_for(self, token: str, user: str) -> bool:
        try:
            with urllib.request.urlopen(  # noqa: S310 (a test URL we build)
                self.tokeninfo_url + quote(token, safe=""), timeout=5
            ) as resp:
                info: Any = json.load(resp)
        except (urllib.error.URLError, ValueError):
            return False
        return (
            isinstance(info, dict)
            and str(info.get("email", "")).lower() == user.lower()
            and info.get("active") == "true"
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> "OAuthSmtpServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
