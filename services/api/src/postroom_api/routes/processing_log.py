"""The per-mail processing log (what happened to each mail and why), with the raw mail."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime

from postroom_api.auth import RequireRead
from postroom_api.deps import StoreDep
from postroom_api.routes.items import blob_response
from postroom_api.routing import NOT_FOUND, UNPROCESSABLE, SafeRoute, not_found
from postroom_api.schemas import LogEntryView

__all__ = ["router", "utc"]

router = APIRouter(
    prefix="/v1/log", tags=["processing log"], route_class=SafeRoute, dependencies=[RequireRead]
)

_Key = Annotated[str | None, Query(min_length=1, max_length=1000)]


def utc(value: datetime | None, name: str) -> datetime | None:
    """`value` in UTC (both stores compare instants that way); 422 when it cannot be."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", name), "msg": "date out of range"}]
        ) from None


@router.get("", summary="Processing log entries, newest first", responses=UNPROCESSABLE)
async def list_log(
    store: StoreDep,
    account_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    mail_key: _Key = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Entries at or after (with a UTC offset).")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Entries before.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LogEntryView]:
    start, end = utc(since, "since"), utc(until, "until")
    if start is not None and end is not None and start > end:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "until"), "msg": "is before since"}]
        )
    entries = await store.list_log(
        account_id=account_id, mail_key=mail_key, since=start, until=end, limit=limit
    )
    return [LogEntryView.of(entry) for entry in entries]


@router.get(
    "/raw",
    summary="The raw mail (.eml) of a mail key that was applied to an item or ignored",
    responses={200: {"content": {"message/rfc822": {}}}, **NOT_FOUND},
    response_class=Response,
)
async def raw_mail(
    store: StoreDep, mail_key: Annotated[str, Query(min_length=1, max_length=1000)]
) -> Response:
    item = await store.item_for_mail(mail_key)
    if item is not None:
        for message in await store.list_messages(item.id):
            if message.key == mail_key and message.blob_ref:
                return await blob_response(
                    store,
                    message.blob_ref,
                    content_type="message/rfc822",
                    filename=f"{item.token}.eml",
                    fallback="message.eml",
                )
    for entry in await store.list_log(mail_key=mail_key, limit=20):
        if entry.blob_ref:  # ignored mail: no item, the log keeps the reference
            return await blob_response(
                store,
                entry.blob_ref,
                content_type="message/rfc822",
                filename="ignored.eml",
                fallback="message.eml",
            )
    raise not_found("no stored raw mail for this mail key (quarantined mail: /v1/quarantine)")
