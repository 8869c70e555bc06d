"""The Settings screens' pure parts: a posted form as the JSON route's body (empty = omitted,
numbered rows, lines, words), a 422 of a list's member next to the list's field, the SMTP form's
values (never a secret) and body, and the test mail's answer."""

import pytest
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import FormData

from postroom_api.console.form_calls import attempt, body_of, problems_of, rows_of, validated
from postroom_api.console.forms import FormProblems
from postroom_api.console.smtp_pages import form_values, sent_words, smtp_body
from postroom_api.console.workflow_pages import step_fields
from postroom_api.schemas import PersonIn, SmtpView, TestMailView, WorkflowIn
from postroom_api.schemas.oauth import OAuthView
from postroom_api.schemas.smtp import SmtpSettingsView
from postroom_shared.models import Security


def test_rows_keep_their_order_and_drop_removed_and_spare_ones() -> None:
    rows = {
        "10": {"name": "late"},
        "2": {"name": "open", "on_new_email": "", "remove": "false"},
        "3": {"name": "gone", "remove": "true"},
        "4": {"name": "", "on_new_email": ""},
    }
    assert rows_of(rows) == [{"name": "open", "on_new_email": ""}, {"name": "late"}]
    assert rows_of("not rows") == []


def test_a_form_becomes_the_body_empty_fields_omitted() -> None:
    form = FormData(
        [
            ("csrf_token", "t"),
            ("name", "Help desk"),
            ("more", "1"),
            ("steps.0.name", "open"),
            ("steps.0.on_new_email", ""),
            ("steps.1.name", "closed"),
            ("steps.1.on_new_email", "open"),
            ("steps.2.name", ""),
            ("emails", "a@example.test\n\n  b@example.test \n"),
            ("oauth.scopes", "mail offline_access"),
            ("oauth.client_secret", ""),
        ]
    )
    body = body_of(
        form, skip=("more",), rows=("steps",), lines=("emails",), words=("oauth.scopes",)
    )
    assert body == {
        "name": "Help desk",
        "steps": [{"name": "open"}, {"name": "closed", "on_new_email": "open"}],
        "emails": ["a@example.test", "b@example.test"],
        "oauth": {"scopes": ["mail", "offline_access"]},
    }
    workflow = {k: body[k] for k in ("name", "steps")}
    assert validated(WorkflowIn, workflow).steps[0].on_new_email is None


def test_a_problem_of_a_list_member_lands_on_the_list_field() -> None:
    with pytest.raises(RequestValidationError) as raised:
        validated(PersonIn, {"kind": "boss", "emails": ["ok@example.test", "nope"]})
    found = problems_of(raised.value, ("kind", "name", "emails"))
    assert set(found.by_field) == {"kind", "emails"}
    assert found.get("emails").startswith("entry 2: ")
    assert found.general == []
    unknown = problems_of(raised.value, ("name",))
    assert unknown.by_field == {} and len(unknown.general) == 2


def test_step_fields_name_every_row_a_422_may_point_at() -> None:
    assert step_fields(2) == [
        "name",
        "steps",
        "steps.0.name",
        "steps.0.on_new_email",
        "steps.1.name",
        "steps.1.on_new_email",
    ]


async def test_attempt_turns_refusals_into_problems_and_lets_others_through() -> None:
    async def refused() -> None:
        raise HTTPException(409, "workflow wf_1 is used by account(s): Support")

    async def broken() -> None:
        raise HTTPException(500, "boom")

    result = await attempt(refused(), ())
    assert isinstance(result, FormProblems) and result.general == [
        "workflow wf_1 is used by account(s): Support"
    ]
    with pytest.raises(HTTPException):
        await attempt(broken(), ())


def _custom(**change: object) -> SmtpView:
    oauth = OAuthView(
        client_id="app", scopes=["a", "b"], client_secret_set=True, refresh_token_set=False
    )
    view = SmtpSettingsView(
        host="smtp.example.test",
        port=587,
        security=Security.STARTTLS,
        verify_tls=True,
        auth="xoauth2",
        username="desk@example.test",
        password_set=True,
        oauth=oauth,
        oauth_provider="microsoft",
    )
    return SmtpView(mode="custom", custom=view.model_copy(update=change))


def test_the_smtp_form_shows_settings_but_never_a_secret() -> None:
    values = form_values(_custom())
    assert values["host"] == "smtp.example.test" and values["security"] == "starttls"
    assert values["oauth.client_id"] == "app" and values["oauth.scopes"] == "a b"
    assert values["oauth.client_secret_set"] is True
    assert "oauth.client_secret" not in values and "password" not in values
    assert form_values(SmtpView(mode="builtin", custom=None))["auth"] == "password"


def test_the_oauth_fields_count_only_for_xoauth2() -> None:
    fields = [("host", "h"), ("oauth.client_id", "app"), ("oauth.tenant", "common")]
    password = smtp_body(FormData([*fields, ("auth", "password"), ("oauth_provider", "google")]))
    assert "oauth" not in password and "oauth_provider" not in password
    oauth = smtp_body(FormData([*fields, ("auth", "xoauth2"), ("oauth_provider", "")]))
    assert oauth["oauth"] == {"client_id": "app", "tenant": "common"}
    assert "oauth_provider" not in oauth


def test_the_answer_to_a_test_mail_is_the_servers_own_words() -> None:
    sent = TestMailView(ok=True, smtp_response="250 2.0.0 Ok", error=None, server="h:25")
    assert sent_words(sent) == (True, "sent through h:25: 250 2.0.0 Ok")
    refused = TestMailView(
        ok=False, smtp_response="", error="535 5.7.8 authentication failed", server="h:587"
    )
    assert sent_words(refused) == (
        False,
        "not sent through h:587: 535 5.7.8 authentication failed",
    )
