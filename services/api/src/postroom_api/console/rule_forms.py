"""The parts of the account-rule and template forms that dotted names cannot say.

An item's field mapping and its default values are maps whose keys hold dots themselves
(`fields.severity`), so their rows are posted as `map-<row>-target`/`-source` and
`default-<row>-use`/`-name`/`-value` (a row's key is any token the page made up, so a "+ row"
button needs no counter) and put together here. Empty selects mean "none" (null in the JSON
body). A 422 about one entry of such a map is shown under the whole table. A template's render
error names its part ("text: TemplateSyntaxError: ..."), which says which field it belongs to.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.datastructures import FormData

from postroom_api.console.forms import FormProblems

__all__ = [
    "STANDARD_TARGETS",
    "blank_is_none",
    "defaults_of",
    "folded",
    "mapping_of",
    "row_fields",
    "template_part",
]

#: The item fields every mapping offers (custom `fields.<name>` rows come after them).
STANDARD_TARGETS = ("title", "description", "requester", "created_date")
_ROW = re.compile(r"^(map|default)-([A-Za-z0-9]{1,32})-(target|source|use|name|value)$")


def row_fields(form: FormData) -> set[str]:
    """The names of `form` that belong to mapping and default rows (not to the body)."""
    return {name for name in form if _ROW.match(name)}


def _rows(form: FormData, kind: str) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for name in form:
        match = _ROW.match(name)
        if match and match.group(1) == kind:
            values = [v for v in form.getlist(name) if isinstance(v, str)]
            rows.setdefault(match.group(2), {})[match.group(3)] = values[-1] if values else ""
    return rows


def mapping_of(form: FormData) -> dict[str, str]:
    """Item field -> mail source, from every mapping row (the standard targets' rows carry
    their target as a hidden field); a row without a target or a source maps nothing."""
    mapping: dict[str, str] = {}
    for row in _rows(form, "map").values():
        target, source = row.get("target", "").strip(), row.get("source", "")
        if target and source:
            mapping[target] = source
    return mapping


def defaults_of(form: FormData) -> dict[str, str]:
    """The 'change value to' rows whose box is ticked and that name a field."""
    chosen: dict[str, str] = {}
    for row in _rows(form, "default").values():
        name = row.get("name", "").strip()
        if row.get("use") == "true" and name:
            chosen[name] = row.get("value", "")
    return chosen


def blank_is_none(body: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """`body` with each dotted path whose value is "" (an empty select) set to None."""
    for path in paths:
        *parents, leaf = path.split(".")
        at: Any = body
        for part in parents:
            at = at.get(part) if isinstance(at, dict) else None
        if isinstance(at, dict) and at.get(leaf) == "":
            at[leaf] = None
    return body


def folded(problems: FormProblems, known: Iterable[str], tables: Iterable[str]) -> FormProblems:
    """`problems` with those under a table's name (`items.defaults.fields.x`) said under the
    table, and those of no field the form shows made general."""
    shown, whole = set(known), tuple(tables)
    by_field: dict[str, str] = {}
    general = list(problems.general)

    def add(name: str, said: str) -> None:
        by_field[name] = f"{by_field[name]}; {said}" if name in by_field else said

    for name, said in problems.by_field.items():
        table = next((t for t in whole if name.startswith(t + ".")), None)
        if name in shown:
            add(name, said)
        elif table is not None:
            add(table, f"{name[len(table) + 1 :]}: {said}")
        else:
            general.append(f"{name}: {said}")
    return FormProblems(by_field, general)


def template_part(error: str, parts: Mapping[str, str]) -> str:
    """The form field a render error belongs to: its leading part name, else the body."""
    head = error.split(":", 1)[0].strip()
    return parts.get(head, parts["text"])
