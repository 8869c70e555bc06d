"""Template preview: a real stored item, its account and last inbound mail, rendered exactly
as a real send renders it; template errors come back as `error`, never raised."""

from collections.abc import AsyncIterator
from typing import Literal

import pytest

from postroom_replier.domain.templates import BUILTIN_NOTIFICATION, MAX_OUTPUT
from postroom_replier.preview import preview_template
from postroom_replier.renderer import TemplateRenderer
from postroom_shared.models import Item, ItemType, NotificationTemplate, Party, ThreadMessage
from postroom_shared.store import Store, open_store
from tests import factories

TEMPLATE = NotificationTemplate(
    id="t1",
    name="Thanks",
    subject="Got it: {{ message.subject }}",
    text="Dear {{ message.sender_name }}, {{ item.token_brackets }} is {{ item.status }}."
    " -- {{ account.name }} <{{ account.address }}>",
    html="<p>{{ item.title }}</p>",
)


@pytest.fixture
async def renderer() -> AsyncIterator[TemplateRenderer]:
    rendering = TemplateRenderer(workers=1)
    yield rendering
    await rendering.aclose()


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    opened = await open_store(sqlite_url)
    await opened.put_account(factories.account())
    await opened.put_account(
        factories.account("acc2", "sales@example.test").model_copy(update={"name": "Sales"})
    )
    item = Item(
        id="it_prev",
        item_type=ItemType.DEFECT,
        number=12,
        project="Web",
        account_id="acc1",
        title="Login <b>broken</b>",
        status="open",
    )
    first = factories.thread_message(item.id).model_copy(
        update={"subject": "Login broken", "sender": Party(address="a@x.test", name="Ann")}
    )
    await opened.insert_item(item, first, [])
    later: list[tuple[str, Literal["in", "out"], str]] = [
        ("out-1", "out", "support@example.test"),
        ("in-2", "in", "b@x.test"),
    ]
    for key, direction, sender in later:
        await opened.append_message(
            item.id,
            ThreadMessage(
                key=f"{item.id}/{key}",
                item_id=item.id,
                account_id="acc1",
                direction=direction,
                subject=f"Re: {key}",
                sender=Party(address=sender, name="Bea" if direction == "in" else "Support"),
            ),
            [],
            add_participants=[],
        )
    yield opened
    await opened.close()


async def test_renders_against_the_item_its_account_and_last_inbound_mail(
    store: Store, renderer: TemplateRenderer
) -> None:
    preview = await preview_template(
        store, TEMPLATE, item_id="it_prev", account_id=None, renderer=renderer
    )
    assert preview.error is None
    assert preview.subject == "Re: [DEF-12] Got it: Re: in-2"  # as sent: token added once
    assert preview.text == "Dear Bea, [DEF-12] is open. -- Support <support@example.test>"
    assert preview.html == "<p>Login &lt;b&gt;broken&lt;/b&gt;</p>"  # autoescaped, as sent


async def test_another_account_can_be_chosen(store: Store, renderer: TemplateRenderer) -> None:
    preview = await preview_template(
        store, TEMPLATE, item_id="it_prev", account_id="acc2", renderer=renderer
    )
    assert preview.text.endswith("-- Sales <sales@example.test>")


async def test_without_an_item_a_sample_is_used(store: Store, renderer: TemplateRenderer) -> None:
    preview = await preview_template(
        store, BUILTIN_NOTIFICATION, item_id=None, account_id="acc1", renderer=renderer
    )
    assert preview.error is None and "[INC-42]" in preview.subject
    assert "Casey Customer" in preview.text and "Support" in preview.text


@pytest.mark.parametrize(
    ("source", "expected", "over_budget"),
    [
        ("{{ item.title ", "TemplateSyntaxError", False),
        ("{{ nope.x }}", "UndefinedError", False),
        ("{{ item.__class__.__mro__ }}", "unsafe", False),
        (
            "{% for i in range(10**6) %}{% for j in range(10**6) %}x{% endfor %}{% endfor %}",
            "loop steps",
            True,
        ),
        (
            "{{ 'x' * 10 }}{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}",
            str(MAX_OUTPUT),
            True,
        ),
        ('{{ "x" * 3000000000 }}', "repetition", True),
        ("{{ 9 ** 99999999 }}", "'**' result over", True),
    ],
)
async def test_template_errors_come_back_as_error(
    store: Store, source: str, expected: str, over_budget: bool, renderer: TemplateRenderer
) -> None:
    broken = NotificationTemplate(id="b", name="Broken", text=source)
    preview = await preview_template(
        store, broken, item_id="it_prev", account_id=None, renderer=renderer
    )
    assert preview.error is not None and expected in preview.error, preview.error
    assert preview.over_budget is over_budget
    assert preview.text == "" and preview.html is None


async def test_unknown_ids_come_back_as_error(store: Store, renderer: TemplateRenderer) -> None:
    missing_item = await preview_template(
        store, TEMPLATE, item_id="it_nope", account_id=None, renderer=renderer
    )
    assert missing_item.error == "no item 'it_nope'"
    missing_account = await preview_template(
        store, TEMPLATE, item_id=None, account_id="acc_nope", renderer=renderer
    )
    assert missing_account.error == "no account 'acc_nope'"
