"""A settings form posted to a JSON route's own function, and what came back.

`body_of` reads a posted form into the body the JSON route takes (`forms.nested`, then what a
form cannot say as JSON: an empty field is an omitted one, repeated rows are a list, a textarea
of lines is a list). `attempt` runs the route's function and turns its refusals into
`FormProblems`: a 422 next to the fields it names, a 404/409/424 (not found, in use, the
identity provider down) as a general problem in the route's own words.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from postroom_api.console.forms import FormProblems, field_errors, nested

__all__ = [
    "attempt",
    "body_of",
    "deleted_or_refused",
    "problems_of",
    "rows_of",
    "saved_or_again",
    "validated",
]

_REFUSALS = (404, 409, 424)


def _without_empty(value: Any) -> Any:
    """Drop empty strings and the objects they leave empty: an empty field is an omitted one,
    so an optional field keeps its default (or, for a secret, the stored value)."""
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v != "" and v != {}}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def rows_of(value: Any) -> list[dict[str, Any]]:
    """Numbered rows (`steps.0.name`, `steps.1.name`...) in their order, without the rows the
    form marks `remove` and those with nothing filled in (the form's spare rows)."""
    if not isinstance(value, dict):
        return []
    rows = []
    for key in sorted((k for k in value if str(k).isdigit()), key=int):
        row = value[key]
        if not isinstance(row, dict) or row.pop("remove", "false") == "true":
            continue
        if any(v not in (None, "") for v in row.values()):
            rows.append(row)
    return rows


def body_of(
    form: FormData,
    *,
    skip: Iterable[str] = (),
    rows: Iterable[str] = (),
    lines: Iterable[str] = (),
    words: Iterable[str] = (),
) -> dict[str, Any]:
    """The JSON body of a posted form: `rows` name numbered row groups, `lines` textareas
    with one value a line, `words` fields of space-separated values (all top-level names)."""
    body = nested(form, skip)
    for name in rows:
        body[name] = rows_of(body.get(name))
    body = dict(_without_empty(body))
    for name in lines:
        if isinstance(body.get(name), str):
            body[name] = [v.strip() for v in body[name].splitlines() if v.strip()]
    for dotted in words:
        *parents, leaf = dotted.split(".")
        at: Any = body
        for part in parents:
            at = at.get(part) if isinstance(at, dict) else None
        if isinstance(at, dict) and isinstance(at.get(leaf), str):
            at[leaf] = at[leaf].split()
    return body


def problems_of(
    exc: RequestValidationError | ValidationError, fields: Iterable[str]
) -> FormProblems:
    """`field_errors`, but a problem of a list's member (`emails.1`) goes to the field that
    holds the list (`emails`) when the form has no field of its own for the member."""
    known = set(fields)
    found = field_errors(exc)
    by_field: dict[str, str] = {}
    general = list(found.general)
    for name, said in found.by_field.items():
        parts = name.split(".")
        target = next(
            (".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known),
            None,
        )
        if target is None:
            general.append(f"{name}: {said}")
            continue
        rest = parts[len(target.split(".")) :]
        if rest and rest[0].isdigit():  # which member of the list: "entry 2: ..."
            said = f"entry {int(rest[0]) + 1}: {said}"
        by_field[target] = f"{by_field[target]}; {said}" if target in by_field else said
    return FormProblems(by_field, general)


def validated[M: BaseModel](model: type[M], body: dict[str, Any]) -> M:
    """`body` as the JSON route's body model; a ValidationError as FastAPI would say it."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None


async def attempt[T](call: Awaitable[T], fields: Iterable[str]) -> T | FormProblems:
    """What the route's function returned, or its refusal as problems for the form."""
    try:
        return await call
    except RequestValidationError as exc:
        return problems_of(exc, fields)
    except HTTPException as exc:
        if exc.status_code not in _REFUSALS:
            raise
        return FormProblems({}, [str(exc.detail)])


class _Stored(Protocol):
    @property
    def id(self) -> str: ...


async def saved_or_again[M: BaseModel](
    model: type[M],
    body: dict[str, Any],
    save: Callable[[M], Awaitable[_Stored]],
    fields: Iterable[str],
    again: Callable[[FormProblems], Response],
    base: str,
) -> Response:
    """Save `body` as `model` with the route's function `save`: to the saved thing's page
    (`base`/id), or the form `again` with the problems."""

    async def saved() -> _Stored:
        return await save(validated(model, body))

    result = await attempt(saved(), fields)
    if isinstance(result, FormProblems):
        return again(result)
    return RedirectResponse(f"{base}/{result.id}?saved=1", status_code=303)


async def deleted_or_refused(
    delete: Awaitable[None],
    refused: Callable[[FormProblems], Awaitable[Response]],
    base: str,
) -> Response:
    """Delete with the route's function: to the list, or the confirmation again saying why
    not (the route's 409: still in use, and by whom)."""
    result = await attempt(delete, ())
    if isinstance(result, FormProblems):
        return await refused(result)
    return RedirectResponse(f"{base}?deleted=1", status_code=303)
