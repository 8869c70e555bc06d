"""The quarantine screens: the mail that could not be processed (docs/features.md F9), one
entry's page with its reason in words and a summary of its headers, the .eml download,
"Reprocess" (htmx, with progress: the answer says whether it is now an item or still
quarantined, and why) and "Discard" after a confirmation page.

Everything calls the JSON routes' own functions (`routes.quarantine`: list, get, raw,
reprocess, discard), so the console obeys their rules (a headers-only entry cannot be
reprocessed: 409, in the route's words). Admin keys see the buttons, `read` keys the pages
alone (their posts are 403 through `require_admin`), `agent` keys get 403.
"""

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.explain import rule_of_quarantine
from postroom_api.console.pages import render
from postroom_api.deps import BrokerDep, BrokerReadyDep, SettingsDep, StoreDep
from postroom_api.routes.quarantine import (
    discard,
    get_quarantined,
    list_quarantine,
    quarantined_raw,
    reprocess,
)
from postroom_api.routing import PathId
from postroom_api.schemas import QuarantineView
from postroom_api.store import ApiStore

__all__ = ["HEADER_LIMIT", "SUMMARY", "headers_summary", "router"]

router = APIRouter(prefix="/ui/quarantine", include_in_schema=False)
HEADER_LIMIT = 64 * 1024  # more header than this is not summarised (a hostile mail)
SUMMARY = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "Auto-Submitted")
_VALUE_LIMIT = 300


def headers_summary(raw: bytes) -> list[tuple[str, str]]:
    """The few headers a person recognises a mail by, decoded, from the raw mail's header
    block (the first `HEADER_LIMIT` bytes at most); what cannot be read is left out."""
    head = raw[:HEADER_LIMIT]
    for sep in (b"\r\n\r\n", b"\n\n"):
        if (end := head.find(sep)) >= 0:
            head = head[:end]
            break
    try:
        parsed = BytesHeaderParser(policy=default).parsebytes(head)
    except Exception:  # the header block is unreadable: say nothing rather than fail the page
        return []
    summary = []
    for name in SUMMARY:
        value = _header(parsed, name)
        if value is not None:
            text = " ".join(str(value).split())
            cut = text[:_VALUE_LIMIT] + ("…" if len(text) > _VALUE_LIMIT else "")
            summary.append((name, cut))
    return summary


def _header(parsed: Message, name: str) -> str | None:
    try:
        value = parsed.get(name)
    except Exception:  # one malformed header hides only itself
        return None
    return None if value is None else str(value)


@dataclass(frozen=True)
class Row:
    entry: QuarantineView
    rule: str
    headers: dict[str, str]


async def _row(store: ApiStore, entry: QuarantineView) -> Row:
    headers: list[tuple[str, str]] = []
    if entry.raw_url:
        try:
            headers = headers_summary(bytes((await quarantined_raw(store, entry.id)).body))
        except HTTPException:  # the bytes are gone: the entry is still worth showing
            headers = []
    return Row(entry, rule_of_quarantine(entry.reason), dict(headers))


@router.get("")
async def quarantine(
    request: Request,
    visitor: ConfigReaderDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 25,
    discarded: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    page = await list_quarantine(store, limit)
    rows = [await _row(store, entry) for entry in page.entries]
    return render(
        request,
        "quarantine.html",
        total=page.total,
        rows=rows,
        limit=limit,
        discarded=discarded,
    )


async def _entry(request: Request, store: ApiStore, entry_id: str, confirm: bool) -> HTMLResponse:
    """One entry's page, or (`confirm`) the page that asks before discarding it."""
    row = await _row(store, await get_quarantined(store, entry_id))
    if not confirm:
        return render(request, "quarantine_entry.html", row=row)
    sender, subject = row.headers.get("From", "an unknown sender"), row.headers.get("Subject")
    return render(
        request,
        "ops_confirm.html",
        title="Discard this quarantined mail?",
        said=f"From {sender}, subject “{subject or 'unknown'}”, quarantined because"
        f" {row.entry.reason.rstrip('.')}. It leaves the quarantine and will not become an"
        " item; its raw bytes stay in the blob store until the retention cleanup.",
        action=f"/ui/quarantine/{entry_id}/discard",
        button=("confirm-discard", "Discard it"),
        back=(f"/ui/quarantine/{entry_id}", "Keep it"),
    )


@router.get("/{entry_id}")
async def entry_page(
    request: Request, visitor: ConfigReaderDep, store: StoreDep, entry_id: PathId
) -> HTMLResponse:
    return await _entry(request, store, entry_id, confirm=False)


@router.get("/{entry_id}/raw")
async def raw(visitor: ConfigReaderDep, store: StoreDep, entry_id: PathId) -> Response:
    """The quarantined mail as a download (the JSON route's response: attachment, sandboxed)."""
    return await quarantined_raw(store, entry_id)


@router.post("/{entry_id}/reprocess")
async def reprocess_entry(
    request: Request,
    visitor: AdminDep,
    store: StoreDep,
    broker: BrokerDep,
    ready: BrokerReadyDep,
    settings: SettingsDep,
    entry_id: PathId,
) -> HTMLResponse:
    """The fragment htmx swaps in where the progress was: 200 even for a refusal (the
    refusal, in the route's words, is the answer)."""
    item_id = ""
    try:
        entry = await get_quarantined(store, entry_id)
        result = await reprocess(store, broker, ready, settings, entry_id)
    except HTTPException as exc:
        worked, words = False, str(exc.detail)
    else:
        worked = not result.quarantined
        if result.quarantined:
            words = f"Still quarantined ({result.outcome}); one attempt more counted."
        else:
            words = f"Reprocessed: {result.outcome}."
            item = await store.item_for_mail(entry.mail_key)
            item_id = item.id if item else ""
    return render(request, "quarantine_answer.html", worked=worked, words=words, item_id=item_id)


@router.get("/{entry_id}/discard")
async def confirm_discard(
    request: Request, visitor: AdminDep, store: StoreDep, entry_id: PathId
) -> HTMLResponse:
    return await _entry(request, store, entry_id, confirm=True)


@router.post("/{entry_id}/discard")
async def discard_entry(visitor: AdminDep, store: StoreDep, entry_id: PathId) -> Response:
    await discard(store, entry_id)
    return RedirectResponse(f"/ui/quarantine?discarded={entry_id}", status_code=303)
