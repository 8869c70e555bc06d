"""The account-rule forms' own parts: mapping and default rows into the JSON body's maps, empty
selects as null, a 422 about one map entry said under its table, a render error's field."""

from starlette.datastructures import FormData

from postroom_api.console.forms import FormProblems
from postroom_api.console.rule_forms import (
    blank_is_none,
    defaults_of,
    folded,
    mapping_of,
    row_fields,
    template_part,
)


def _form() -> FormData:
    return FormData(
        [
            ("csrf_token", "t"),
            ("project", "Desk"),
            ("map-title-target", "title"),
            ("map-title-source", "subject"),
            ("map-requester-target", "requester"),
            ("map-requester-source", ""),  # not mapped
            ("map-a1-target", " fields.severity "),
            ("map-a1-source", "to"),
            ("map-b2-target", ""),  # a blank custom row
            ("map-b2-source", "cc"),
            ("default-x-use", "false"),
            ("default-x-use", "true"),
            ("default-x-name", "priority"),
            ("default-x-value", "high"),
            ("default-y-use", "false"),  # unticked: removed
            ("default-y-name", "status"),
            ("default-y-value", "open"),
            ("default-z-use", "true"),  # ticked but names nothing
            ("default-z-name", " "),
            ("default-z-value", "x"),
        ]
    )


def test_rows_become_the_maps_and_stay_out_of_the_body() -> None:
    form = _form()
    assert mapping_of(form) == {"title": "subject", "fields.severity": "to"}
    assert defaults_of(form) == {"priority": "high"}
    rows = row_fields(form)
    assert "map-a1-target" in rows and "default-z-value" in rows
    assert "project" not in rows and "csrf_token" not in rows


def test_empty_selects_are_null_and_other_values_stay() -> None:
    body = {"creator": "", "auto_reply": {"template_id": ""}, "workflow_id": "wf_1"}
    paths = ["creator", "auto_reply.template_id", "workflow_id", "notifications.item_created"]
    assert blank_is_none(body, paths) == {
        "creator": None,
        "auto_reply": {"template_id": None},
        "workflow_id": "wf_1",
    }


def test_a_problem_of_a_map_entry_is_said_under_its_table() -> None:
    problems = FormProblems(
        {
            "project": "required",
            "items.defaults.colour.[key]": "String should match pattern",
            "name": "taken",
        },
        ["a rule"],
    )
    shown = folded(problems, ["project"], ["items.defaults", "items.field_mapping"])
    assert shown.by_field == {
        "project": "required",
        "items.defaults": "colour.[key]: String should match pattern",
    }
    assert shown.general == ["a rule", "name: taken"]


def test_a_render_error_belongs_to_the_part_it_names() -> None:
    parts = {"subject": "subject", "text": "text", "html": "html"}
    assert template_part("subject: TemplateSyntaxError: unexpected end", parts) == "subject"
    assert template_part("html: UndefinedError: 'x' is undefined", parts) == "html"
    assert template_part("rendered output over 100000 characters", parts) == "text"
