"""Items, threads, attachments and raw mail over HTTP, on items the real converter made from
real mail (both stores), with filters and the opaque cursor."""

import base64
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest

from postroom_converter.domain.outcome import Created, Ignored
from tests import factories
from tests.integration.api_harness import Api, converter_for, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def mail(n: int, sender: str, subject: str, *, attach: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Sender {n} <{sender}>"
    msg["To"] = "support@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<m{n}@example.org>"
    msg["Date"] = f"Tue, 24 Nov 2026 10:0{n}:00 +0000"
    msg.set_content(f"Body {n}")
    if attach:
        msg.add_alternative('<p>See <img src="cid:logo@x"> here</p>', subtype="html")
        parts = msg.get_payload()
        assert isinstance(parts, list)
        html = parts[1]
        assert isinstance(html, EmailMessage)
        html.add_related(PNG, maintype="image", subtype="png", cid="<logo@x>", filename="logo.png")
        msg.add_attachment(
            b"a,b\n1,2\n", maintype="text", subtype="csv", filename='r\u00e9sum\u00e9 "2".csv'
        )
    return bytes(msg)


# built once: MIME boundaries are random, the raw downloads must equal these bytes
MAILS = [
    mail(1, "ann@example.org", "Printer on fire", attach=True),
    mail(2, "bob@example.org", "VPN down"),
    mail(3, "ann@example.org", "Printer again"),
]


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        converter = await converter_for(running)
        for uid, raw in enumerate(MAILS, start=1):
            outcome = await converter.handle(factories.mail_received(f"acc1/INBOX/1/{uid}", raw))
            assert isinstance(outcome, Created), outcome
        yield running


async def test_list_filters_and_cursor(api: Api) -> None:
    page = (await api.get("/v1/items")).json()
    assert [i["title"] for i in page["items"]] == ["Printer again", "VPN down", "Printer on fire"]
    assert page["next_cursor"] is None
    first = page["items"][0]
    assert first["type"] == "incident" and first["token"].startswith("INC-")
    assert first["account_id"] == "acc1" and first["messages"] == 1

    async def titles(**params: str | int) -> list[str]:
        response = await api.get("/v1/items", params=params)
        assert response.status_code == 200, response.text
        return [i["title"] for i in response.json()["items"]]

    assert await titles(q="PRINTER") == ["Printer again", "Printer on fire"]
    assert await titles(requester="ANN@example.org") == ["Printer again", "Printer on fire"]
    assert await titles(requester="bob@example.org", q="vpn") == ["VPN down"]
    assert await titles(status="new", type="incident", account_id="acc1", project="Support") == [
        "Printer again",
        "VPN down",
        "Printer on fire",
    ]
    assert await titles(type="defect") == []
    assert await titles(account_id="other") == []
    # page by page
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/items", params=params)).json()
        seen += [i["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Printer again", "VPN down", "Printer on fire"]
    two = (await api.get("/v1/items", params={"limit": 2, "q": "printer"})).json()
    assert two["next_cursor"] is None and len(two["items"]) == 2
    for garbage in (
        "x",
        "!!!",
        base64.urlsafe_b64encode(b"2026-01-01|").decode(),
        base64.urlsafe_b64encode(b"yesterday|it_1").decode(),
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00|it_1").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ):
        assert "cursor" in problems(await api.get("/v1/items", params={"cursor": garbage}))
    assert "limit" in problems(await api.get("/v1/items", params={"limit": 0}))
    assert "type" in problems(await api.get("/v1/items", params={"type": "task"}))


async def test_thread_attachments_and_raw_mail(api: Api) -> None:
    item = (await api.get("/v1/items", params={"q": "fire"})).json()["items"][0]
    detail = (await api.get(f"/v1/items/{item['id']}")).json()
    assert detail["description"].startswith("Body 1") and detail["requester_id"]
    [message] = detail["thread"]
    assert message["direction"] == "in" and message["mail_key"] == "acc1/INBOX/1/1"
    assert message["sender"]["address"] == "ann@example.org"
    by_name = {a["filename"]: a for a in message["attachments"]}
    assert set(by_name) == {"logo.png", 'r\u00e9sum\u00e9 "2".csv'}
    logo = by_name["logo.png"]
    # the inline image points at its download URL; nothing remote, no script
    assert f'src="{logo["download_url"]}"' in message["html"]
    png = await api.get(logo["download_url"])
    assert png.status_code == 200 and png.content == PNG
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith('attachment; filename="logo.png"')
    assert png.headers["x-content-type-options"] == "nosniff"
    csv = await api.get(by_name['r\u00e9sum\u00e9 "2".csv']["download_url"])
    assert csv.content == b"a,b\n1,2\n"
    disposition = csv.headers["content-disposition"]
    assert 'filename="r_sum_ _2_.csv"' in disposition
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%222%22.csv" in disposition
    raw = await api.get(message["raw_url"])
    assert raw.status_code == 200 and raw.headers["content-type"] == "message/rfc822"
    assert raw.content == MAILS[0]
    base = f"/v1/items/{item['id']}/messages/{message['id']}"
    assert (await api.get(f"{base}/attachments/9")).status_code == 404
    assert (await api.get(f"/v1/items/{item['id']}/messages/m_{'0' * 24}/raw")).status_code == 404
    assert (await api.get(f"/v1/items/{item['id']}/messages/nope/raw")).status_code == 422
    assert (await api.get(f"{base}/attachments/-1")).status_code == 422
    assert (await api.get("/v1/items/it_missing")).status_code == 404
    assert (
        await api.get("/v1/items/it_missing/messages/" + message["id"] + "/raw")
    ).status_code == 404


async def test_processing_log_with_raw_mail(api: Api) -> None:
    entries = (await api.get("/v1/log")).json()
    assert [e["mail_key"] for e in entries] == [
        "acc1/INBOX/1/3",
        "acc1/INBOX/1/2",
        "acc1/INBOX/1/1",
    ]
    assert {e["action"] for e in entries} == {"created"}
    one = (await api.get("/v1/log", params={"mail_key": "acc1/INBOX/1/2"})).json()
    assert [e["mail_key"] for e in one] == ["acc1/INBOX/1/2"]
    assert one[0]["item_token"] and one[0]["stage"] == "converter"
    raw = await api.get(one[0]["raw_url"])
    assert raw.status_code == 200 and raw.content == MAILS[1]
    middle = entries[1]["at"]
    since = (await api.get("/v1/log", params={"since": middle})).json()
    assert [e["mail_key"] for e in since] == ["acc1/INBOX/1/3", "acc1/INBOX/1/2"]
    until = (await api.get("/v1/log", params={"until": middle})).json()
    assert [e["mail_key"] for e in until] == ["acc1/INBOX/1/1"]
    assert len((await api.get("/v1/log", params={"limit": 1})).json()) == 1
    assert (await api.get("/v1/log", params={"account_id": "other"})).json() == []
    assert "since" in problems(await api.get("/v1/log", params={"since": "yesterday"}))
    assert "since" in problems(await api.get("/v1/log", params={"since": "2026-01-01T00:00:00"}))
    backwards = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert "until" in problems(await api.get("/v1/log", params=backwards))
    extreme = {"since": "9999-12-31T23:59:59-05:00"}
    assert (await api.get("/v1/log", params=extreme)).status_code in (200, 422)
    assert (await api.get("/v1/log/raw", params={"mail_key": "acc1/nope"})).status_code == 404


async def test_ignored_mail_keeps_its_raw_mail_in_the_log(api: Api) -> None:
    # an out-of-office answer that belongs to no item is ignored, not lost from sight
    ooo = (
        b"From: Dana <dana@example.org>\r\nTo: support@example.test\r\n"
        b"Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
        b"Message-ID: <ooo-1@example.org>\r\n\r\nI am away until Monday.\r\n"
    )
    converter = await converter_for(api)
    outcome = await converter.handle(factories.mail_received("acc1/INBOX/1/50", ooo))
    assert isinstance(outcome, Ignored), outcome
    [entry] = (await api.get("/v1/log", params={"mail_key": "acc1/INBOX/1/50"})).json()
    assert entry["action"] == "ignored" and entry["item_id"] is None
    raw = await api.get(entry["raw_url"])
    assert raw.status_code == 200 and raw.content == ooo
    assert raw.headers["content-type"] == "message/rfc822"


async def test_template_preview_against_a_real_item(api: Api) -> None:
    template = {
        "name": "Ack",
        "text": "Hello {{ message.sender_name }}, {{ item.token }} is {{ item.status }}"
        " at {{ account.address }}.",
        "html": "<p>{{ item.title }}</p>",
    }
    created = (await api.post("/v1/templates", json=template)).json()
    item = (await api.get("/v1/items", params={"q": "VPN"})).json()["items"][0]
    path = f"/v1/templates/{created['id']}/preview"
    preview = await api.post(path, json={"item_id": item["id"]})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["error"] is None
    assert body["text"] == f"Hello Sender 2, {item['token']} is new at support@example.test."
    assert body["html"] == "<p>VPN down</p>"
    assert f"[{item['token']}]" in body["subject"] and "VPN down" in body["subject"]
    sample = (await api.post(path)).json()
    assert sample["error"] is None and "INC-42" in sample["text"]
    broken = {"template": {"name": "x", "text": "{{ item.nope }}"}, "item_id": item["id"]}
    draft = (await api.post("/v1/templates/preview", json=broken)).json()
    assert draft["error"] and "nope" in draft["error"] and draft["text"] == ""
    assert (await api.post(path, json={"item_id": "it_missing"})).status_code == 404
    assert (await api.post(path, json={"account_id": "acc_missing"})).status_code == 404
    assert (await api.post("/v1/templates/tpl_missing/preview")).status_code == 404
