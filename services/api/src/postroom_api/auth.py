"""Bearer API keys with scopes: `admin` (everything), `read` (GET only), `deliver` (push mail),
`agent` (read and work items: status, assignment, fields, notes, replies, notification list;
nothing of the configuration). docs/security.md has the table.

The bootstrap key POSTROOM_ADMIN_API_KEY is always an admin key; every other key lives in the
store as a sha256 hash (`postroom_shared.apikeys`). Comparisons are constant-time. A missing,
unknown or revoked key is 401; a valid key without the needed scope is 403, so a client can
tell "who are you?" from "you may not".
"""

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from postroom_api.components import Components
from postroom_api.deps import ComponentsDep
from postroom_shared.apikeys import find_api_key, hash_key

__all__ = [
    "BOOTSTRAP_KEY_ID",
    "INVALID_KEY",
    "MISSING_KEY",
    "Principal",
    "RequireAdmin",
    "RequireDeliver",
    "RequireItemRead",
    "RequireRead",
    "RequireWork",
    "document_auth_responses",
    "presented_key",
    "principal_for",
    "principal_for_hash",
]

BOOTSTRAP_KEY_ID = "bootstrap"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and scopes."""

    key_id: str
    name: str
    scopes: frozenset[str]
    account_ids: tuple[str, ...] = ()

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=detail)


MISSING_KEY = "missing API key: send `Authorization: Bearer <key>`"
INVALID_KEY = "invalid or revoked API key"


def presented_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header value, or None (as HTTPBearer)."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


async def principal_for(components: Components, presented: str) -> Principal | None:
    """Who `presented` is: the bootstrap key or a stored one; None for an unknown or revoked
    key."""
    if hmac.compare_digest(hash_key(presented), components.admin_key_hash):
        return Principal(BOOTSTRAP_KEY_ID, "POSTROOM_ADMIN_API_KEY", frozenset({"admin"}))
    record = await find_api_key(components.store, presented)
    if record is None:
        return None
    return Principal(record.id, record.name, frozenset(record.scopes), tuple(record.account_ids))


async def principal_for_hash(components: Components, key_hash: str) -> Principal | None:
    """Who holds the key whose sha256 is `key_hash` (a console session keeps only that): the
    same answers as `principal_for`, checked again on every request, so a revoked key is
    signed out at once."""
    if hmac.compare_digest(key_hash, components.admin_key_hash):
        return Principal(BOOTSTRAP_KEY_ID, "POSTROOM_ADMIN_API_KEY", frozenset({"admin"}))
    record = await components.store.get_api_key_by_hash(key_hash)
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.key_hash, key_hash):
        return None
    return Principal(record.id, record.name, frozenset(record.scopes), tuple(record.account_ids))


async def authenticate(
    components: ComponentsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _unauthorized(MISSING_KEY)
    principal = await principal_for(components, credentials.credentials)
    if principal is None:
        raise _unauthorized(INVALID_KEY)
    return principal


Authenticated = Annotated[Principal, Depends(authenticate)]


def require_admin(principal: Authenticated) -> Principal:
    if not principal.admin:
        raise _forbidden(
            f"API key {principal.key_id!r} has scopes {sorted(principal.scopes)};"
            " this needs the admin scope"
        )
    return principal


def _reading(request: Request, principal: Principal, readers: frozenset[str]) -> Principal:
    """GET (HEAD, OPTIONS) for a key with one of `readers` or `admin`; any other method on
    the same route needs `admin`, so a router guarded by a reader never lets a key write."""
    if principal.admin:
        return principal
    if request.method not in _SAFE_METHODS:
        raise _forbidden(
            f"API key {principal.key_id!r} is read-only (scopes {sorted(principal.scopes)}):"
            f" it may GET but not {request.method}; this needs the admin scope"
        )
    if not readers & principal.scopes:
        raise _forbidden(
            f"API key {principal.key_id!r} has scopes {sorted(principal.scopes)};"
            f" reading this needs one of {sorted(readers | {'admin'})}"
        )
    return principal


def require_read(request: Request, principal: Authenticated) -> Principal:
    """Configuration and operations: `read` or `admin` may read, only `admin` writes."""
    return _reading(request, principal, frozenset({"read"}))


def require_item_read(request: Request, principal: Authenticated) -> Principal:
    """Items and people: `agent` keys read them too (they work items and assign people)."""
    return _reading(request, principal, frozenset({"read", "agent"}))


def require_work(principal: Authenticated) -> Principal:
    """Working an item (status, assignment, fields, notes, replies, notification list) needs
    `agent` or `admin`; a `read` key gets 403."""
    if principal.admin or "agent" in principal.scopes:
        return principal
    raise _forbidden(
        f"API key {principal.key_id!r} has scopes {sorted(principal.scopes)};"
        " working an item needs the agent or admin scope"
    )


def require_deliver(account_id: str, principal: Authenticated) -> Principal:
    """Pushing mail to `account_id` (a path parameter of the route) needs `admin`, or `deliver`
    on a key that is not limited to other accounts."""
    if principal.admin:
        return principal
    if "deliver" not in principal.scopes:
        raise _forbidden(
            f"API key {principal.key_id!r} has scopes {sorted(principal.scopes)};"
            " pushing mail needs the deliver or admin scope"
        )
    if principal.account_ids and account_id not in principal.account_ids:
        raise _forbidden(f"API key {principal.key_id!r} may not deliver to this account")
    return principal


RequireAdmin = Depends(require_admin)
RequireRead = Depends(require_read)
RequireItemRead = Depends(require_item_read)
RequireWork = Depends(require_work)
RequireDeliver = Depends(require_deliver)

_DETAIL = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        }
    }
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key.", "content": _DETAIL},
    403: {"description": "The API key lacks the scope this needs.", "content": _DETAIL},
}


def document_auth_responses(app: FastAPI) -> None:
    """Add the 401/403 responses to every operation that takes the bearer key, whichever
    router declared it (FastAPI's documented way to extend the generated OpenAPI)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        if fresh:
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    schemes = {name for rule in operation.get("security", []) for name in rule}
                    if _bearer.scheme_name in schemes:
                        responses = operation.setdefault("responses", {})
                        for code, response in AUTH_RESPONSES.items():
                            responses.setdefault(str(code), response)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
