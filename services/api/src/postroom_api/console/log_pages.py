"""The processing log screens: every account's (`/ui/log`, Operations menu) and one account's
("Processing log" tab). Each entry says in words why the mail did what it did
(`console.explain`), links the item it created or joined, and downloads its raw mail.

The entries come from the JSON route's own function (`routes.processing_log.list_log`, with
its filters: account, mail key, since/until) and the download from `raw_mail`, the same bytes
as `GET /v1/log/raw` as an attachment. Paging walks back in time: the next page is the
entries before the last one shown. Admin and `read` keys see these pages; `agent` keys 403.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from postroom_api.console.access import ConfigReaderDep
from postroom_api.console.explain import Why, explain
from postroom_api.console.forms import FormProblems, field_errors
from postroom_api.console.pages import render
from postroom_api.deps import StoreDep
from postroom_api.routes.processing_log import list_log, raw_mail
from postroom_api.routing import PathId, not_found
from postroom_api.schemas import AccountView, LogEntryView
from postroom_api.store import ApiStore

__all__ = ["PAGE_SIZE", "parse_when", "router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def parse_when(value: str) -> AwareDatetime | None:
    """A filter's date and time: ISO 8601, or a browser's `datetime-local` (no offset: UTC,
    as the page says). Raises ValueError for anything else."""
    if not value.strip():
        return None
    when = datetime.fromisoformat(value.strip())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Filters(BaseModel):
    """The filter form, as the query string carries it (dates as typed: `parse_when`)."""

    model_config = ConfigDict(frozen=True)

    account_id: str = Field(default="", max_length=200)
    mail_key: str = Field(default="", max_length=1000)
    since: str = Field(default="", max_length=100)
    until: str = Field(default="", max_length=100)

    def query(self, **changes: str) -> str:
        values = {**self.model_dump(), **changes}
        return urlencode({k: v for k, v in values.items() if v})


FiltersDep = Annotated[Filters, Query()]


@dataclass(frozen=True)
class Entry:
    entry: LogEntryView
    why: Why
    account: str


async def _entries(
    store: ApiStore, filters: Filters
) -> tuple[list[LogEntryView], bool, FormProblems | None]:
    """A page of entries, whether older ones exist, and the filters' problems (if any)."""
    bounds: dict[str, AwareDatetime | None] = {}
    for name in ("since", "until"):
        try:
            bounds[name] = parse_when(getattr(filters, name))
        except ValueError:
            problem = {"type": "value_error", "loc": ("query", name), "msg": "not a date"}
            return [], False, field_errors(RequestValidationError([problem]))
    try:
        entries = await list_log(
            store,
            account_id=filters.account_id or None,
            mail_key=filters.mail_key or None,
            since=bounds["since"],
            until=bounds["until"],
            limit=PAGE_SIZE + 1,
        )
    except RequestValidationError as exc:  # until before since, a date out of range
        return [], False, _by_query_name(exc)
    return entries[:PAGE_SIZE], len(entries) > PAGE_SIZE, None


def _by_query_name(exc: RequestValidationError) -> FormProblems:
    errors = [{**e, "loc": tuple(e.get("loc", ()))[1:]} for e in exc.errors()]
    return field_errors(RequestValidationError(errors))


async def _page(
    request: Request, store: ApiStore, filters: Filters, account: AccountView | None
) -> HTMLResponse:
    entries, more, problems = await _entries(store, filters)
    names = {a.id: a.name for a in await store.list_accounts()}
    rows = [
        Entry(e, explain(e.stage, e.action, e.reason, e.item_token), names.get(e.account_id, ""))
        for e in entries
    ]
    # the last entry's instant, in UTC without an offset: what the date field shows
    last = entries[-1].at.astimezone(UTC).replace(tzinfo=None).isoformat() if more else ""
    older = filters.query(until=last) if more else ""
    return render(
        request,
        "log.html",
        422 if problems else 200,
        rows=rows,
        filters=filters,
        problems=problems,
        older=older,
        account=account,
        tab="log",
        accounts=sorted(names.items(), key=lambda pair: pair[1].lower()),
    )


@router.get("/ui/log")
async def log_page(
    request: Request, visitor: ConfigReaderDep, store: StoreDep, filters: FiltersDep
) -> HTMLResponse:
    return await _page(request, store, filters, None)


@router.get("/ui/accounts/{id}/log")
async def account_log_page(
    request: Request, visitor: ConfigReaderDep, store: StoreDep, id: PathId, filters: FiltersDep
) -> HTMLResponse:
    account = await store.get_account(id)
    if account is None:
        raise not_found(f"no account {id}")
    mine = filters.model_copy(update={"account_id": id})
    return await _page(request, store, mine, AccountView.of(account))


@router.get("/ui/log/raw")
async def raw(
    visitor: ConfigReaderDep,
    store: StoreDep,
    mail_key: Annotated[str, Query(min_length=1, max_length=1000)],
) -> Response:
    """The raw mail as a download (the JSON route's response: attachment, sandboxed)."""
    return await raw_mail(store, mail_key)
