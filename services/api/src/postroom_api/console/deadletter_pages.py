"""The dead-letter screens: every consumer queue with the count of its `<queue>.dlq`, a
queue's first dead letters (id, reason, when, an excerpt of the body), one dead letter with its
headers and body, "Replay" one or all (htmx, with progress; the answer is how many moved) and
"Purge" after a confirmation page.

Everything calls the JSON routes' own functions (`routes.deadletters`) on the API's kept broker
connection, with their rules: a broker that cannot be reached or does not confirm is a 503 in
the route's words, which the page shows. Looking never takes a message off its queue
(`postroom_shared.deadletters`). Like `/v1/deadletters`, these pages are for admin keys only
(bodies hold mail addresses and subjects; docs/security.md): `read` and `agent` keys get 403.
"""

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.console.access import AdminDep
from postroom_api.console.pages import render
from postroom_api.deps import BrokerAdminDep
from postroom_api.routes.deadletters import (
    MessageId,
    QueueName,
    first_dead_letters,
    list_queues,
    purge,
    replay_all,
    replay_one,
    show_message,
)
from postroom_api.schemas.deadletters import MovedView
from postroom_shared.broker_admin import BrokerAdmin

__all__ = ["EXCERPT", "excerpt", "moved_words", "router"]

router = APIRouter(prefix="/ui/dead-letters", include_in_schema=False)
EXCERPT = 160  # characters of a body the list shows
PAGE = 20


def excerpt(body: str, limit: int = EXCERPT) -> str:
    """The start of a body on one line (the template escapes it)."""
    line = " ".join(body.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def moved_words(verb: str, moved: MovedView) -> str:
    plural = "" if moved.count == 1 else "s"
    where = f" back to {moved.queue}" if verb == "Replayed" else f" from {moved.queue}.dlq"
    return f"{verb} {moved.count} message{plural}{where}."


async def _or_refusal[T](call: Awaitable[T]) -> tuple[T | None, str]:
    """The route's answer, or its refusal in its own words (404: gone, 503: the broker)."""
    try:
        return await call, ""
    except HTTPException as exc:
        if exc.status_code not in (404, 503):
            raise
        return None, str(exc.detail)


@router.get("")
async def queues(request: Request, visitor: AdminDep, admin: BrokerAdminDep) -> HTMLResponse:
    rows, error = await _or_refusal(list_queues(admin))
    return render(request, "deadletters.html", 503 if error else 200, rows=rows or [], error=error)


@router.get("/{queue}")
async def queue_page(
    request: Request,
    visitor: AdminDep,
    admin: BrokerAdminDep,
    queue: QueueName,
    purged: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    page, error = await _or_refusal(first_dead_letters(admin, queue, PAGE, with_body=True))
    return render(
        request,
        "deadletter_queue.html",
        503 if error else 200,
        queue=queue,
        page=page,
        error=error,
        purged=purged,
        excerpt=excerpt,
    )


@dataclass(frozen=True)
class Letter:
    """One dead letter's address: the broker, its consumer queue and its message id."""

    admin: BrokerAdmin
    queue: str
    message_id: str


async def _letter(admin: BrokerAdminDep, queue: QueueName, message_id: MessageId) -> Letter:
    return Letter(admin, queue, message_id)


LetterDep = Annotated[Letter, Depends(_letter)]


@router.get("/{queue}/messages/{message_id}")
async def message_page(request: Request, visitor: AdminDep, letter: LetterDep) -> HTMLResponse:
    message = await show_message(letter.admin, letter.queue, letter.message_id)
    return render(request, "deadletter.html", queue=letter.queue, message=message)


@router.post("/{queue}/replay")
async def replay_queue(
    request: Request, visitor: AdminDep, admin: BrokerAdminDep, queue: QueueName
) -> HTMLResponse:
    return await _replayed(request, replay_all(admin, queue))


@router.post("/{queue}/messages/{message_id}/replay")
async def replay_message(request: Request, visitor: AdminDep, letter: LetterDep) -> HTMLResponse:
    return await _replayed(request, replay_one(letter.admin, letter.queue, letter.message_id))


async def _replayed(request: Request, replay: Awaitable[MovedView]) -> HTMLResponse:
    """What htmx swaps in where the progress was (200 for a refusal too: it is the answer)."""
    moved, error = await _or_refusal(replay)
    words = moved_words("Replayed", moved) if moved is not None else error
    return render(request, "account_answer.html", worked=moved is not None, words=words)


@router.get("/{queue}/purge")
async def confirm_purge(
    request: Request, visitor: AdminDep, admin: BrokerAdminDep, queue: QueueName
) -> HTMLResponse:
    page, error = await _or_refusal(first_dead_letters(admin, queue, 1))
    what = f"the {page.count} dead letter{'' if page.count == 1 else 's'}" if page else "every one"
    return render(
        request,
        "ops_confirm.html",
        title=f"Purge {queue}.dlq?",
        error=error,
        said=f"This drops {what} of {queue} for good: they will never be processed. Replay"
        " them instead if their cause is fixed.",
        action=f"/ui/dead-letters/{queue}/purge",
        button=("confirm-purge", "Purge them"),
        back=(f"/ui/dead-letters/{queue}", "Keep them"),
    )


@router.post("/{queue}/purge")
async def purge_queue(visitor: AdminDep, admin: BrokerAdminDep, queue: QueueName) -> Response:
    purged = await purge(admin, queue)
    return RedirectResponse(f"/ui/dead-letters/{queue}?purged={purged.count}", status_code=303)
