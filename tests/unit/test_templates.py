"""Notification templates: sandboxed, strict, and never a broken mail."""

from email import message_from_bytes, policy

import pytest

from postroom_replier.domain.compose import compose_auto_reply
from postroom_replier.domain.templates import (
    BUILTIN_AUTO_REPLY,
    TemplateError,
    context,
    render,
)
from postroom_shared.contracts import AddressV1, ClassificationV1, ItemRefV1, MessageRefV1
from postroom_shared.models import NotificationTemplate
from tests import factories

ITEM = ItemRefV1(
    item_id="it_1",
    item_type="user_story",
    number=7,
    token="US-7",
    project="Web",
    title="Login <b>broken</b>",
    status="new",
    account_id="acc1",
)
MESSAGE = MessageRefV1(
    mail_key="k",
    message_id="<m@x>",
    subject="Login",
    sender=AddressV1(address="c@x.test", name="Casey"),
    classification=ClassificationV1(kind="normal", auto_submitted=False),
)
VALUES = context(ITEM, factories.account(), MESSAGE)


def _template(**fields: str) -> NotificationTemplate:
    return NotificationTemplate.model_validate({"id": "t", "name": "T", "text": "x", **fields})


def test_builtin_names_the_item_and_the_sender() -> None:
    rendered = render(BUILTIN_AUTO_REPLY, VALUES)
    assert rendered.subject == "[US-7] Login"
    assert rendered.text.startswith("Hello Casey,") and "[US-7]" in rendered.text
    assert rendered.html is None


def test_custom_template_with_html_part_is_escaped() -> None:
    rendered = render(
        _template(
            text="Hi {{ message.sender_name }}: {{ item.title }}", html="<p>{{ item.title }}</p>"
        ),
        VALUES,
    )
    assert rendered.text == "Hi Casey: Login <b>broken</b>"
    assert rendered.html == "<p>Login &lt;b&gt;broken&lt;/b&gt;</p>"
    mail = compose_auto_reply(
        account=factories.account(),
        item=ITEM,
        inbound=MESSAGE,
        recipient="c@x.test",
        message_id="<a@b>",
        instance="t",
        rendered=rendered,
    )
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert "[US-7]" in str(parsed["Subject"])


@pytest.mark.parametrize(
    "text",
    [
        "{{ item.nope }}",                                   # unknown variable
        "{% for %}",                                         # syntax error
        "{{ ''.__class__.__mro__ }}",                        # sandbox: internals
        "{{ item.title.__class__ }}",
        "{% for i in range(10**9) %}x{% endfor %}",          # runaway output
        "{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    ],
)  # fmt: skip
def test_broken_or_hostile_templates_raise(text: str) -> None:
    with pytest.raises(TemplateError):
        render(_template(text=text), VALUES)
