"""From HTML forms to the JSON routes' bodies, and from their 422s back to the form.

Console forms post flat fields; the JSON API takes nested bodies. A field's name is its dotted
path in the body (`mailbox.host`, `auto_reply.enabled`), so one form can be read into the very
body model the JSON route validates (`nested`), and each problem of that route's 422 lands next
to the field it names (`field_errors`). A checkbox is written as a hidden `false` followed by the
checkbox's `true` (the last value wins), so an unticked box still says false. A name ending in
`[]` keeps every value as a list (a multi-select, repeated rows).
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData

__all__ = ["FormProblems", "field_errors", "nested"]

# The fields every console form carries that are not part of the body.
_NOT_BODY = frozenset({"csrf_token"})


def nested(form: FormData, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The form as a nested body: `a.b=1` → {"a": {"b": "1"}}; `tags[]` → a list."""
    body: dict[str, Any] = {}
    skipped = _NOT_BODY | set(skip)
    for name in dict.fromkeys(form.keys()):
        if name in skipped:
            continue
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        if name.endswith("[]"):
            value: Any = values
            name = name[:-2]
        else:
            value = values[-1] if values else ""
        *parents, leaf = name.split(".")
        at = body
        for part in parents:
            child = at.setdefault(part, {})
            if not isinstance(child, dict):  # `a=1` and `a.b=2` in one form: the form is wrong
                raise ValueError(f"form field {name!r} conflicts with {part!r}")
            at = child
        at[leaf] = value
    return body


class FormProblems:
    """A 422's problems, by the dotted name of the field each one names; those that name no
    field of the form (a rule over several fields) are `general`."""

    def __init__(self, by_field: Mapping[str, str], general: Sequence[str]) -> None:
        self.by_field = dict(by_field)
        self.general = list(general)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)

    def get(self, field: str) -> str:
        return self.by_field.get(field, "")


def field_errors(
    exc: RequestValidationError | ValidationError, fields: Iterable[str] | None = None
) -> FormProblems:
    """Each problem of `exc` by field: `loc` without the leading "body", joined by dots. With
    `fields` (the form's field names), a problem of a field the form lacks is general, so
    nothing is said where nobody sees it."""
    errors = exc.errors(include_input=False) if isinstance(exc, ValidationError) else exc.errors()
    known = set(fields) if fields is not None else None
    by_field: dict[str, str] = {}
    general: list[str] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        msg = str(error.get("msg", "invalid"))
        name = ".".join(loc)
        if name and (known is None or name in known):
            by_field[name] = f"{by_field[name]}; {msg}" if name in by_field else msg
        else:
            general.append(f"{name}: {msg}" if name else msg)
    return FormProblems(by_field, general)
