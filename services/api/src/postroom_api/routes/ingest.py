"""`POST /v1/accounts/{account_id}/mail`: push one raw mail into Postroom over HTTP.

The same path as polled and piped mail (`postroom_shared.ingest.publish_raw_mail`): the
response (202) comes only after the broker confirmed `mail.received.v1`, so a client that got
it may forget the mail. Pushing the same bytes again is harmless (same mail key; the converter
applies a mail key once).
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from postroom_api.auth import RequireDeliver
from postroom_api.deps import BrokerDep, BrokerReadyDep, SettingsDep, StoreDep
from postroom_api.door import BodyTooLarge, too_large
from postroom_api.routing import SafeRoute
from postroom_shared.ingest import publish_raw_mail, push_mail_key
from postroom_shared.logs import get_logger
from postroom_shared.models import mail_size_limit

__all__ = ["PushedMail", "router"]

router = APIRouter(prefix="/v1/accounts", tags=["push"], route_class=SafeRoute)
log = get_logger(__name__)

RETRY_AFTER_S = 30
_MAIL_TYPES = ("message/rfc822", "application/octet-stream")


class PushedMail(BaseModel):
    mail_key: str
    event_id: str
    size: int


def _unavailable(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=detail,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused past `limit` while it streams in. The door (`postroom_api.door`)
    already refused what declared more, and cuts a chunked body at the same limit; this keeps
    the route safe wherever it is mounted."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{account_id}/mail",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Push one raw mail (RFC 5322 bytes) to an account",
    dependencies=[RequireDeliver],
    response_model=PushedMail,
    responses={
        400: {"description": "Empty body."},
        404: {"description": "No such account."},
        409: {"description": "The account is not active, or is not a push account."},
        413: {
            "description": "Larger than the account's max_mail_bytes (within the deployment's"
            " POSTROOM_MAX_MAIL_BYTES); refused before the body is read when Content-Length"
            " says so, else cut where the body passes the limit."
        },
        415: {"description": "Body is not message/rfc822."},
        503: {"description": "Broker unavailable; retry after `Retry-After` seconds."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def push_mail(
    request: Request,
    store: StoreDep,
    broker: BrokerDep,
    broker_ready: BrokerReadyDep,
    settings: SettingsDep,
    account_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> JSONResponse:
    account = await store.get_account(account_id)
    if account is None:
        raise HTTPException(status_code=404, detail="no such account")
    if not account.active:
        raise HTTPException(status_code=409, detail="account is not active; activate it first")
    if account.provider != "push":
        # A polled mailbox also pushed to would bring the same mail in twice, under two keys.
        raise HTTPException(
            status_code=409,
            detail=f"account is a {account.provider} account, not a push account:"
            " its mail is fetched from the mailbox",
        )
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in _MAIL_TYPES:
        raise HTTPException(
            status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="send the raw mail with Content-Type: message/rfc822",
        )
    limit = mail_size_limit(account.max_mail_bytes, settings.max_mail_bytes)
    raw = await _read_limited(request, limit)
    if not raw.strip():
        raise HTTPException(status_code=400, detail="empty mail")
    if not (broker_ready.is_set() and await broker.ping(timeout=1.0)):
        raise _unavailable("message broker unavailable; the mail was not accepted")
    mail_key = push_mail_key(account_id, raw)
    try:
        async with asyncio.timeout(15):
            event = await publish_raw_mail(
                store,
                broker,
                account_id=account_id,
                raw=raw,
                mail_key=mail_key,
                source="api",
                inline_max_bytes=settings.inline_max_bytes,
            )
    except Exception as exc:  # whatever broke, the mail was not confirmed: the client retries
        log.warning("pushed mail not published", account_id=account_id, error=repr(exc))
        raise _unavailable("message broker unavailable; the mail was not accepted") from exc
    log.info("mail pushed", account_id=account_id, mail_key=mail_key, size=len(raw))
    body = PushedMail(mail_key=mail_key, event_id=str(event.event_id), size=len(raw))
    return JSONResponse(status_code=status.HTTP_202_ACCEPTED, content=body.model_dump())
