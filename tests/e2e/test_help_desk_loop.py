"""The help-desk loop, end to end on the real stack (issue 12; docs/architecture.md, "The
help-desk loop"), once on SQLite and once on the MongoDB adapter (the mongoeco wire server).

`deploy/local/run.sh` starts Postfix, Dovecot, RabbitMQ and the four services. The admin sets
up a workflow whose "closed" step sends new mail to "Customer replied" and tells the demo
account to move items along it; then:

1. a customer mails support through Postfix: item INC-n and one auto-reply in their INBOX;
2. a team member (an `agent` key) puts the customer on the notification list and replies
   through the API: the reply reaches the customer as a person's mail (From support, `[INC-n]`,
   threaded to the customer's mail, no Auto-Submitted);
3. an integration closes the item with `item.change_status.v1` on `postroom.commands`;
4. the customer gets the status notification;
5. the customer answers it through Postfix: the answer is on INC-n, the item moved to
   "Customer replied", and no second auto-reply reached the customer;
6. a subscriber of `item.#` got `item.updated.v1` for each change, with its actor.

Every wait polls with a bound; each step prints how long it took.
"""

import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from postroom_shared.contracts import ActorV1, ChangeStatusV1
from tests.e2e.event_tap import EventTap, publish_raw_command
from tests.e2e.runstack import RunningStack, mailbox, send, stack_on, wait_for

pytestmark = pytest.mark.e2e

ACCOUNT_ID = "acc_demo_support"  # what `postroom seed-demo` (run.sh) creates
CUSTOMER = "customer@example.test"
FIRST_ID = "<desk-first@example.test>"
ANSWER_ID = "<desk-answer@example.test>"
STEPS = [
    {"name": "New"},
    {"name": "Customer replied"},
    {"name": "closed", "on_new_email": "Customer replied"},
]
WAIT_S = 60.0  # any one hop, on a loaded machine


@pytest.fixture(params=["sqlite", "mongodb"])
def desk(request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    with stack_on(request.param, "pr-desk-") as stack:
        yield stack


class Api:
    """The HTTP API with one key."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.headers = base, {"Authorization": f"Bearer {key}"}

    def call(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        answer = httpx.request(method, self.base + path, headers=headers, timeout=30, **kw)
        assert answer.status_code == expect, (method, path, answer.status_code, answer.text)
        return answer.json()

    def item(self, item_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/v1/items/{item_id}")
        return found


def _configure(admin: Api) -> None:
    """The admin's part: the workflow, and the account moving items along it on new mail."""
    workflow = admin.call("POST", "/v1/workflows", 201, json={"name": "Desk", "steps": STEPS})
    on_reply = {"change_status_to": "open", "move_workflow_step": True}
    patch = {"workflow_id": workflow["id"], "on_reply": on_reply}
    admin.call("PATCH", f"/v1/accounts/{ACCOUNT_ID}", json=patch)


def _mail(subject: str, message_id: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Casey Customer <{CUSTOMER}>"
    msg["To"] = "support@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg


def _inbox(stack: RunningStack, count: int, what: str) -> list[EmailMessage]:
    """The customer's INBOX once it holds `count` mails."""
    return wait_for(
        lambda: found if len(found := mailbox(stack.env, "customer")) >= count else None,
        WAIT_S,
        what,
    )


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def step(self, what: str) -> None:
        now = time.monotonic()
        print(f"  {what}: {now - self.start:.1f} s")
        self.start = now


@pytest.mark.timeout(600)
def test_help_desk_loop(desk: RunningStack) -> None:
    env, clock = desk.env, Clock()
    admin = Api(desk.api, desk.api_key)
    _configure(admin)
    key = admin.call("POST", "/v1/api-keys", 201, json={"name": "helpdesk", "scopes": ["agent"]})
    agent = Api(desk.api, key["key"])
    items_tap = EventTap(env.amqp_url, "e2e-desk.item-events", "item.#").bind()
    replier_tap = EventTap(env.amqp_url, "e2e-desk.reply-events", "reply.#").bind()
    print(f"\n[{'mongodb' if env.with_mongo else 'sqlite'}] help-desk loop")
    clock.step("configured (workflow, on_reply, agent key, subscribers)")

    # 1. the customer writes; one item, one auto-reply
    send(env, _mail("Printer on fire", FIRST_ID, "The printer on floor 2 is on fire."))
    summaries = wait_for(lambda: agent.call("GET", "/v1/items")["items"], WAIT_S, "the item")
    assert len(summaries) == 1
    item_id, token = summaries[0]["id"], summaries[0]["token"]
    [auto] = _inbox(desk, 1, "the auto-reply")
    assert auto["Auto-Submitted"] == "auto-replied" and auto["In-Reply-To"] == FIRST_ID
    assert f"[{token}]" in str(auto["Subject"])
    item = agent.item(item_id)
    assert (item["workflow_step"], item["status"]) == ("New", "new")
    clock.step(f"1. mail -> {token} and its auto-reply in the customer's INBOX")

    # 2. the team: the customer onto the notification list, then a reply through the API
    notified = agent.call("PUT", f"/v1/items/{item_id}/notify", json={"addresses": [CUSTOMER]})
    assert notified["item"]["notify"] == [CUSTOMER]
    text = "A technician is on the way with an extinguisher."
    replied = agent.call(
        "POST",
        f"/v1/items/{item_id}/replies",
        201,
        json={"text": text},
        headers={"Idempotency-Key": "desk-reply-1"},
    )
    reply_command = replied["applied"][0]["command_id"]
    inbox = _inbox(desk, 2, "the team's reply")
    [team] = [m for m in inbox if m["Message-ID"] != auto["Message-ID"]]
    assert "<support@example.test>" in str(team["From"])
    assert f"[{token}]" in str(team["Subject"])
    assert team["In-Reply-To"] == FIRST_ID and FIRST_ID in str(team["References"])
    assert team["Auto-Submitted"] is None and team["Precedence"] is None
    body = team.get_body(("plain",))
    assert body is not None and text in str(body.get_content())

    def delivered() -> list[dict[str, Any]] | None:
        thread = agent.item(item_id)["thread"]
        [sent] = [m for m in thread if m["kind"] == "team_reply"]
        return sent["delivery"] if sent["delivery"][0]["state"] == "sent" else None

    [delivery] = wait_for(delivered, WAIT_S, "the reply's delivery on the thread")
    assert delivery["recipient"] == CUSTOMER and team["Message-ID"] in [
        m["message_id"] for m in agent.item(item_id)["thread"]
    ]
    clock.step("2. agent reply via the API -> the customer's INBOX")

    # 3. an integration closes the item through the broker
    close = ChangeStatusV1(
        command_id=uuid.uuid4(),
        source="tracker-sync",
        item_id=item_id,
        actor=ActorV1(kind="service", id="tracker-sync", name="Tracker sync"),
        status="closed",
        workflow_step="closed",
    )
    publish_raw_command(env.amqp_url, close)
    wait_for(lambda: agent.item(item_id)["status"] == "closed", WAIT_S, "the item closed")
    clock.step("3. item.change_status.v1 on postroom.commands -> closed")

    # 4. the status notification
    inbox = _inbox(desk, 3, "the status notification")
    [notice] = [m for m in inbox if m["Message-ID"] not in (auto["Message-ID"], team["Message-ID"])]
    assert "<support@example.test>" in str(notice["From"])
    assert str(notice["Subject"]) == f"Re: [{token}] Printer on fire: closed"
    assert notice["Auto-Submitted"] == "auto-generated"
    said = notice.get_body(("plain",))
    assert said is not None and "Tracker sync changed" in str(said.get_content())
    clock.step("4. status notification in the customer's INBOX")

    # 5. the customer answers the notification
    answer = _mail(str(notice["Subject"]), ANSWER_ID, "It is still smoking a little.")
    answer["In-Reply-To"] = notice["Message-ID"]
    answer["References"] = notice["Message-ID"]
    send(env, answer)

    def answered() -> dict[str, Any] | None:
        detail = agent.item(item_id)
        ids = [m["message_id"] for m in detail["thread"]]
        return detail if ANSWER_ID in ids and notice["Message-ID"] in ids else None

    detail = wait_for(answered, WAIT_S, "the answer and the notification on the item")
    assert (detail["workflow_step"], detail["status"]) == ("Customer replied", "open")
    assert len(agent.call("GET", "/v1/items")["items"]) == 1
    [entry] = [m for m in detail["thread"] if m["message_id"] == ANSWER_ID]
    assert entry["direction"] == "in" and entry["kind"] == "normal"
    # the team's reply and the notification are on the thread as outbound mail (the replier has
    # the converter record a sent notification, which may land after the answer: both awaited)
    assert sorted((m["direction"], m["kind"]) for m in detail["thread"]) == [
        ("in", "normal"),
        ("in", "normal"),
        ("out", "auto_reply"),
        ("out", "notification"),
        ("out", "team_reply"),
    ]
    [by_mail] = wait_for(
        lambda: [e for e in items_tap.of_type("item.updated.v1") if e.get("message")] or None,
        WAIT_S,
        "the answer's item.updated.v1",
    )
    assert by_mail["threaded_by"].startswith("signed Message-ID"), by_mail["threaded_by"]

    def decided() -> dict[str, str] | None:
        """What the replier decided about the answer, per purpose (auto_reply, notification),
        once it decided both: each is sent or suppressed, and announced either way."""
        about = {
            e["reason"]: f"{e['type']} {e.get('why') or ''}".strip()
            for e in replier_tap.drain()
            if e.get("causation_id") == by_mail["event_id"] and e.get("recipient") == CUSTOMER
        }
        return about if {"auto_reply", "notification"} <= about.keys() else None

    decisions = wait_for(decided, WAIT_S, "the replier's decisions on the answer")
    print(f"  replier on the answer: {decisions}")
    assert all(d.startswith("reply.suppressed.v1") for d in decisions.values()), decisions
    inbox = mailbox(env, "customer")
    assert len(inbox) == 3, [str(m["Subject"]) for m in inbox]
    assert sum(1 for m in inbox if m["Auto-Submitted"] == "auto-replied") == 1
    clock.step("5. the answer on the item, step 'Customer replied', no second auto-reply")

    # 6. the subscriber saw every change, each with its actor (and command, if one caused it)
    assert len(items_tap.of_type("item.created.v1")) == 1
    updates = items_tap.of_type("item.updated.v1")
    seen = [(sorted(e["changes"]), (e.get("actor") or {}).get("kind")) for e in updates]
    print(f"  item.updated.v1 (changes, actor): {seen}")
    assert seen == [
        (["notify"], "api_key"),
        (["reply_added"], "api_key"),
        (["status", "workflow_step"], "service"),
        (["message_appended", "status", "workflow_step"], "mail"),
    ]
    notify_event, reply_event, close_event, mail_event = updates
    assert notify_event["actor"] == reply_event["actor"]
    assert reply_event["actor"] == {"kind": "api_key", "id": key["id"], "name": "helpdesk"}
    assert notify_event["command_id"] == notified["applied"][0]["command_id"]
    assert reply_event["command_id"] == reply_command
    assert close_event["actor"] == close.actor.model_dump(mode="json")
    assert close_event["command_id"] == str(close.command_id)
    assert mail_event["actor"] == {"kind": "mail", "id": CUSTOMER, "name": "Casey Customer"}
    assert mail_event["command_id"] is None and mail_event is by_mail
    commanded = [notify_event["version"], reply_event["version"], close_event["version"]]
    assert None not in commanded and commanded == sorted(set(commanded)), commanded
    clock.step(f"6. {len(updates)} item.updated.v1 seen by the subscriber")
