"""Customers, users and contacts that incoming mail is mapped to by address
(docs/features.md F3), with the bounce mark the converter sets on a hard bounce and an admin
clears here."""

import secrets as token_source
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from postroom_api.auth import RequireAdmin, RequireItemRead
from postroom_api.deps import StoreDep
from postroom_api.routing import CONFLICT, NOT_FOUND, PathId, SafeRoute, conflict, not_found, now
from postroom_api.schemas import PersonIn, PersonView
from postroom_api.store import ApiStore
from postroom_shared.models import Person

__all__ = ["router"]

router = APIRouter(prefix="/v1/people", tags=["people"], route_class=SafeRoute)
_PREFIX = {"customer": "cu_", "user": "us_", "contact": "ct_"}


async def _load(store: ApiStore, person_id: str) -> Person:
    person = await store.get_person(person_id)
    if person is None:
        raise not_found(f"no person {person_id}")
    return person


async def _put(store: ApiStore, person: Person) -> PersonView:
    try:
        await store.put_person(person)
    except ValueError as exc:  # an address already belongs to somebody else
        raise conflict(str(exc)) from None
    return PersonView.of(person)


def _person(person_id: str, body: PersonIn, old: Person | None = None) -> Person:
    emails = list(dict.fromkeys(body.emails))  # lower-cased by the schema; keep order, no dupes
    person = Person(id=person_id, kind=body.kind, name=body.name, emails=emails, created_at=now())
    if old is not None:
        person.created_at = old.created_at
        # the mark stays while the bounced address does: replacing a person does not clear it
        if old.bounce is not None and old.bounce.address in emails:
            person.bounce = old.bounce
    return person


@router.get("", summary="List people", dependencies=[RequireItemRead])
async def list_people(
    store: StoreDep,
    kind: Literal["customer", "user", "contact"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PersonView]:
    people = await store.list_people(kind=kind, limit=limit)
    return [PersonView.of(p) for p in people]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a customer, user or contact",
    responses=CONFLICT,
    dependencies=[RequireAdmin],
)
async def create_person(store: StoreDep, response: Response, body: PersonIn) -> PersonView:
    person = _person(_PREFIX[body.kind] + token_source.token_hex(8), body)
    view = await _put(store, person)
    response.headers["Location"] = f"/v1/people/{person.id}"
    return view


@router.get(
    "/{person_id}", summary="One person", responses=NOT_FOUND, dependencies=[RequireItemRead]
)
async def get_person(store: StoreDep, person_id: PathId) -> PersonView:
    return PersonView.of(await _load(store, person_id))


@router.put(
    "/{person_id}",
    summary="Replace a person (kind, name, addresses)",
    responses={**NOT_FOUND, **CONFLICT},
    dependencies=[RequireAdmin],
)
async def replace_person(store: StoreDep, person_id: PathId, body: PersonIn) -> PersonView:
    return await _put(store, _person(person_id, body, await _load(store, person_id)))


@router.delete(
    "/{person_id}/bounce",
    summary="Clear a person's bounce mark (automatic mail to the address resumes)",
    responses=NOT_FOUND,
    dependencies=[RequireAdmin],
)
async def clear_bounce(store: StoreDep, person_id: PathId) -> PersonView:
    await _load(store, person_id)
    # one write of the mark alone: a concurrent edit of the person is not overwritten
    if not await store.set_bounce(person_id, None):
        raise not_found(f"no person {person_id}")
    return PersonView.of(await _load(store, person_id))


@router.delete(
    "/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a person (items keep their requester address)",
    responses={**NOT_FOUND, **CONFLICT},
    dependencies=[RequireAdmin],
)
async def delete_person(store: StoreDep, person_id: PathId) -> None:
    await _load(store, person_id)
    users = [a.name for a in await store.list_accounts() if a.creator == person_id]
    if users:
        raise conflict(f"{person_id} is the creator of account(s): {', '.join(users)}")
    if not await store.delete_person(person_id):
        raise not_found(f"no person {person_id}")
