"""Metric labels stay bounded, the publish hook counts what it sees, and a service's metrics
server serves and stops."""

import json

import httpx
import pytest
from prometheus_client import REGISTRY

from postroom_shared.metrics import (
    SUPPRESSION_CODES,
    record_published,
    start_metrics_server,
    suppression_code,
)
from postroom_shared.models import Item
from tests import factories
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("why", "code"),
    [
        ("inbound mail is auto_reply: Auto-Submitted: auto-replied", "auto_submitted"),
        ("inbound mail is out_of_office: X-Autoreply: yes", "auto_submitted"),
        ("inbound mail is list: Precedence: bulk", "bulk"),
        ("inbound mail is list: List-Id: <x.example.test>", "list"),
        ("inbound mail is bounce: multipart/report; report-type=delivery-status", "bounce"),
        ("inbound mail is bounce", "bounce"),
        ("inbound mail is own_loop: X-Postroom-Loop: postroom", "own_loop"),
        ("null return path", "null_sender"),
        ("no usable sender address", "null_sender"),
        ("recipient is one of our own addresses", "own_loop"),
        ("recipient looks like a daemon or no-reply address", "daemon"),
        ("the recipient wrote this mail", "author"),
        (
            "an identical automatic mail went to a@example.test at 2026-11-24 10:00"
            " (RFC 3834: at most once per 7 days)",
            "duplicate_7d",
        ),
        ("rate limit: 5 automatic mails to a@example.test in 60 min", "rate_limited"),
        (
            "rate limit: 3 automatic mails about this item to a@example.test in 10 min",
            "rate_limited",
        ),
        ("not the first mail of the thread (first mail only)", "first_mail_only"),
        ("auto-reply is off for this account", "disabled"),
        ("no separate notification for new items from mail (the auto-reply told them)", "disabled"),
        ("something nobody anticipated", "other"),
        ("", "other"),
    ],
)
def test_suppression_reasons_map_to_a_small_set_of_codes(why: str, code: str) -> None:
    assert suppression_code(why) == code
    assert code in SUPPRESSION_CODES


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_published_events_are_counted_with_bounded_labels() -> None:
    before = _value("postroom_replies_suppressed_total", reason="auto_reply", why="bulk")
    body = {"reason": "auto_reply", "why": "inbound mail is list: Precedence: bulk"}
    record_published("reply.suppressed.v1", json.dumps(body))
    assert (
        _value("postroom_replies_suppressed_total", reason="auto_reply", why="bulk") == before + 1
    )

    item = {"item": {"account_id": "acc_m", "item_type": "defect"}}
    before = _value("postroom_items_created_total", account="acc_m", item_type="defect")
    record_published("item.created.v1", json.dumps(item))
    assert _value("postroom_items_created_total", account="acc_m", item_type="defect") == before + 1
    assert _value("postroom_events_published_total", type="item.created.v1") >= 1


def test_an_event_given_as_its_model_is_counted_as_its_json_is() -> None:
    """`publish_event` hands the model over, so a mail's raw bytes are not parsed again."""
    mail = factories.mail_received("acc_model/INBOX/1/1", b"Subject: x\r\n\r\nbody")
    stored = Item.model_construct(id="it_9", number=9, token="INC-9", item_type="incident")
    item = factories.item_created(stored, 1, "a@x.test")
    item = item.model_copy(update={"item": item.item.model_copy(update={"account_id": "acc_m2"})})
    received = ("postroom_mails_received_total", {"account": "acc_model", "source": "test"})
    created = ("postroom_items_created_total", {"account": "acc_m2", "item_type": "incident"})
    for event, (name, labels) in ((mail, received), (item, created)):
        before = _value(name, **labels)
        record_published(event.type, event)
        record_published(event.type, event.model_dump_json())
        assert _value(name, **labels) == before + 2, name


def test_a_broken_body_is_logged_not_raised() -> None:
    before = _value("postroom_events_published_total", type="mail.received.v1")
    record_published("mail.received.v1", "not json")
    assert _value("postroom_events_published_total", type="mail.received.v1") == before + 1


def test_metrics_server_serves_and_a_taken_port_is_not_fatal() -> None:
    port = free_port()
    server = start_metrics_server("127.0.0.1", port)
    assert server is not None
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        assert "postroom_events_published_total" in response.text
        assert start_metrics_server("127.0.0.1", port) is None
    finally:
        server.close()
