"""Console forms: flat fields to the JSON body, the 422's problems back next to their fields,
and the field macros' markup (label, aria-invalid, the error's id)."""

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from postroom_api.console.forms import field_errors, nested
from postroom_api.console.pages import templates


def test_dotted_names_nest_and_the_last_value_of_a_checkbox_wins() -> None:
    form = FormData(
        [
            ("csrf_token", "t"),
            ("name", "Desk"),
            ("mailbox.host", "imap.example.test"),
            ("mailbox.port", "993"),
            ("auto_reply.enabled", "false"),
            ("auto_reply.enabled", "true"),
            ("tags[]", "a"),
            ("tags[]", "b"),
        ]
    )
    assert nested(form) == {
        "name": "Desk",
        "mailbox": {"host": "imap.example.test", "port": "993"},
        "auto_reply": {"enabled": "true"},
        "tags": ["a", "b"],
    }
    assert nested(form, skip={"name"})["mailbox"]["port"] == "993"


def test_a_leaf_and_a_branch_of_one_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="conflicts"):
        nested(FormData([("a", "1"), ("a.b", "2")]))


class _Box(BaseModel):
    host: str
    port: int


class _Body(BaseModel):
    name: str
    mailbox: _Box


def test_problems_land_on_their_field_and_the_rest_is_general() -> None:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate({"mailbox": {"host": "h", "port": "x"}})
    problems = field_errors(caught.value, fields={"mailbox.port"})
    assert "integer" in problems.get("mailbox.port")
    assert problems.general == ["name: Field required"]
    assert problems.get("mailbox.host") == ""

    route_422 = RequestValidationError(
        [
            {"loc": ("body", "mailbox", "host"), "msg": "unknown host", "type": "value_error"},
            {"loc": ("body",), "msg": "two fields disagree", "type": "value_error"},
        ]
    )
    problems = field_errors(route_422)
    assert problems.by_field == {"mailbox.host": "unknown host"}
    assert problems.general == ["two fields disagree"]
    assert problems


def test_an_invalid_field_is_marked_and_described_by_its_error() -> None:
    page = templates.env.from_string(
        '{% import "fields.html" as f %}'
        '{{ f.input("mailbox.host", "Server", "<h>", problems, required=true) }}'
        '{{ f.checkbox("auto_reply.enabled", "Auto-reply", true, problems) }}'
    )
    problems = field_errors(
        RequestValidationError(
            [{"loc": ("body", "mailbox", "host"), "msg": "no such host", "type": "value_error"}]
        )
    )
    html = page.render(problems=problems)
    assert 'for="mailbox-host"' in html
    assert 'id="mailbox-host" name="mailbox.host"' in html
    assert 'value="&lt;h&gt;"' in html  # escaped
    assert 'aria-invalid="true" aria-describedby="mailbox-host-error"' in html
    assert '<small class="field-error" id="mailbox-host-error">no such host</small>' in html
    assert 'type="hidden" name="auto_reply.enabled" value="false"' in html
    assert "checked" in html
