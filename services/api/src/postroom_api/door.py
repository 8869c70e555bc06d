"""The API's front door: who is calling, and how much they may send, decided from the request
headers before a byte of the body is read.

Why a middleware: FastAPI reads and parses a JSON body before it runs the dependencies that
check the API key, and nothing limited the size: a 300 MB POST without a key was read whole,
then answered 401. This pure ASGI middleware runs first, for every request that carries a body
(a Content-Length above 0, or chunked):

- under /v1, no key, or an unknown or revoked one: 401 at once;
- a Content-Length over the route's limit: 413 at once;
- a chunked body is counted as it arrives and cut with a 413 when it passes the limit.

Every refusal answers `Connection: close`, so the server closes the connection instead of
reading (and discarding) the rest of the body. Limits: pushed mail
(`POST /v1/accounts/{id}/mail`) the account's max_mail_bytes within POSTROOM_MAX_MAIL_BYTES;
every other route 1 MiB, far more than any JSON body the API takes. The routes still check
scopes (403) and everything else; the door only keeps what they must never see.
"""

import json
import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom_api.auth import INVALID_KEY, MISSING_KEY, presented_key, principal_for
from postroom_api.components import Components, components_of
from postroom_shared.models import mail_size_limit

__all__ = ["JSON_BODY_LIMIT", "BodyTooLarge", "RequestDoor", "body_limit", "too_large"]

JSON_BODY_LIMIT = 1024 * 1024
_PUSH = re.compile(r"^/v1/accounts/([^/]+)/mail$")
_CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """A body passed its limit while it was read; an HTTPException so that FastAPI, which turns
    any other error while reading a body into a 400, answers it as it is."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail=detail, headers=_CLOSE)


def too_large(limit: int) -> str:
    """The 413 detail of pushed mail over `limit`."""
    return (
        f"mail larger than this account's limit of {limit} bytes"
        " (its max_mail_bytes, within POSTROOM_MAX_MAIL_BYTES)"
    )


async def body_limit(components: Components, method: str, path: str) -> tuple[int, str]:
    """(limit in bytes, the 413 detail) of a request's body. Pushed mail: the account's limit
    (an unknown account gets the deployment's ceiling, then the route's 404)."""
    push = _PUSH.match(path) if method == "POST" else None
    if push is None:
        return JSON_BODY_LIMIT, f"request body larger than {JSON_BODY_LIMIT} bytes"
    ceiling = components.settings.max_mail_bytes
    account = await components.store.get_account(push.group(1))
    limit = ceiling if account is None else mail_size_limit(account.max_mail_bytes, ceiling)
    return limit, too_large(limit)


class RequestDoor:
    """Authenticate and size every request body before the app reads it (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _declared_length(headers)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and not declared:
            await self.app(scope, receive, send)
            return
        components = components_of(scope["app"])
        path: str = scope["path"]
        if path.startswith("/v1/"):
            presented = presented_key(headers.get("authorization"))
            if presented is None or await principal_for(components, presented) is None:
                detail = MISSING_KEY if presented is None else INVALID_KEY
                await _refuse(send, 401, detail, {"WWW-Authenticate": "Bearer"})
                return
        limit, detail = await body_limit(components, scope["method"], path)
        if declared is not None and declared > limit:
            await _refuse(send, 413, detail)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(detail)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # read outside a route, where no exception handler runs
            if started:
                raise
            await _refuse(send, 413, exc.detail)


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def _refuse(
    send: Send, status: int, detail: str, extra: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **_CLOSE}
    headers.update(extra or {})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})
