"""Bearer API keys. Keys are compared as SHA-256 digests in constant time."""

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["RequireAdmin", "RequireRead", "digest"]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected: bytes = request.app.state.admin_key_digest
    if credentials is None or not hmac.compare_digest(digest(credentials.credentials), expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )


RequireAdmin = Depends(require_admin)

# Routes that only read declare it; until scoped keys exist every valid key is an admin key.
RequireRead = Depends(require_admin)
