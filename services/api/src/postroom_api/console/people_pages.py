"""The People screen: customers, users and contacts that incoming mail is mapped to by address,
with a form to create or edit one (kind, name, addresses one a line), the bounce mark a hard
bounce set (cleared here), and delete after a confirmation.

Every action is the JSON route's own function (`routes.people`): an address that belongs to
somebody else is refused next to the addresses, a person an account names as its items' creator
is not deleted (the refusal names the accounts).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.form_calls import body_of, deleted_or_refused, saved_or_again
from postroom_api.console.forms import FormProblems
from postroom_api.console.pages import render
from postroom_api.deps import StoreDep
from postroom_api.routes.people import (
    clear_bounce,
    create_person,
    delete_person,
    get_person,
    list_people,
    replace_person,
)
from postroom_api.routing import PathId
from postroom_api.schemas import PersonIn, PersonView

__all__ = ["router"]

router = APIRouter(prefix="/ui/people", include_in_schema=False)
FIELDS = ("kind", "name", "emails")
KINDS = [("customer", "customer"), ("user", "user (of the team)"), ("contact", "contact")]


def _form(
    request: Request,
    action: str,
    values: dict[str, Any],
    status_code: int = 200,
    problems: FormProblems | None = None,
    person: PersonView | None = None,
) -> HTMLResponse:
    emails = values.get("emails") or []
    values = {**values, "emails": "\n".join(emails) if isinstance(emails, list) else emails}
    return render(
        request,
        "people_form.html",
        status_code,
        person=person,
        kinds=KINDS,
        values=values,
        problems=problems,
        action=action,
    )


@router.get("")
async def people(request: Request, visitor: ConfigReaderDep, store: StoreDep) -> HTMLResponse:
    listed = await list_people(store, kind=None, limit=1000)
    return render(request, "people.html", people=listed)


@router.get("/new")
async def new_form(request: Request, visitor: AdminDep) -> HTMLResponse:
    return _form(request, "/ui/people/new", {"kind": "customer"})


async def _save(
    request: Request,
    action: str,
    save: Callable[[PersonIn], Awaitable[PersonView]],
    person: PersonView | None = None,
) -> Response:
    body = body_of(await request.form(), lines=("emails",))

    def again(problems: FormProblems) -> Response:
        if problems.general and not problems.by_field:  # 409: an address is somebody else's
            problems = FormProblems({"emails": "; ".join(problems.general)}, [])
        return _form(request, action, body, 422, problems, person)

    return await saved_or_again(PersonIn, body, save, FIELDS, again, router.prefix)


@router.post("/new")
async def create(request: Request, visitor: AdminDep, store: StoreDep) -> Response:
    return await _save(request, "/ui/people/new", lambda b: create_person(store, Response(), b))


@router.get("/{person_id}")
async def edit_form(
    request: Request, visitor: ConfigReaderDep, store: StoreDep, person_id: PathId
) -> HTMLResponse:
    person = await get_person(store, person_id)
    action = f"/ui/people/{person_id}" if visitor.principal.admin else ""
    return _form(request, action, person.model_dump(), person=person)


@router.post("/{person_id}")
async def edit(request: Request, v: AdminDep, store: StoreDep, person_id: PathId) -> Response:
    person = await get_person(store, person_id)
    save = lambda b: replace_person(store, person_id, b)  # noqa: E731
    return await _save(request, f"/ui/people/{person_id}", save, person)


@router.post("/{person_id}/bounce")
async def bounce_cleared(visitor: AdminDep, store: StoreDep, person_id: PathId) -> Response:
    await clear_bounce(store, person_id)
    return RedirectResponse(f"/ui/people/{person_id}?saved=1", status_code=303)


@router.get("/{person_id}/delete")
async def confirm_delete(
    request: Request, visitor: AdminDep, store: StoreDep, person_id: PathId
) -> HTMLResponse:
    return render(request, "people_delete.html", person=await get_person(store, person_id))


@router.post("/{person_id}/delete")
async def delete(request: Request, v: AdminDep, store: StoreDep, person_id: PathId) -> Response:
    async def refused(problems: FormProblems) -> Response:
        person = await get_person(store, person_id)
        return render(request, "people_delete.html", 409, person=person, problems=problems)

    return await deleted_or_refused(delete_person(store, person_id), refused, router.prefix)
