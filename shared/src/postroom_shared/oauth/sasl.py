"""SASL payloads that carry an OAuth access token to a mail server (clear text, before the
base64 step each protocol applies): XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628)."""

__all__ = ["oauthbearer_payload", "xoauth2_payload"]


def _check(user: str, token: str) -> None:
    for value in (user, token):
        if any(c in value for c in "\x01\r\n"):
            raise ValueError("user and token must not contain control characters")


def xoauth2_payload(user: str, token: str) -> str:
    _check(user, token)
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer_payload(
    user: str, token: str, host: str | None = None, port: int | None = None
) -> str:
    _check(user, token)
    # RFC 7628 §3.1: in the GS2 header "," and "=" in the authzid are escaped as =2C and =3D
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    parts = [f"n,a={authzid},"]
    if host is not None:
        parts.append(f"host={host}")
    if port is not None:
        parts.append(f"port={port}")
    parts.append(f"auth=Bearer {token}")
    return "\x01".join(parts) + "\x01\x01"
