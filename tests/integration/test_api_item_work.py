"""Working items over HTTP (PATCH, notes, replies, notification list) on items the real
converter made from real mail, through the owner's write path in the API process, on both
stores and the real broker: ETag/If-Match (412), body version (409), domain refusals (422),
unknown items (404), the agent and read scopes, Idempotency-Key."""

import base64
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest

from postroom_converter.domain.outcome import Created
from postroom_shared.apikeys import new_api_key
from postroom_shared.models import ApiScope, BounceMark, LedgerEntry, Person
from tests import factories
from tests.integration.api_harness import Api, converter_for, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


def _mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Casey Customer <casey@example.org>"
    msg["To"] = "support@example.test"
    msg["Subject"] = "Printer on fire"
    msg["Message-ID"] = "<work-1@example.org>"
    msg.set_content("The printer is on fire.")
    return bytes(msg)


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        converter = await converter_for(running)
        outcome = await converter.handle(factories.mail_received("acc1/INBOX/1/1", _mail()))
        assert isinstance(outcome, Created), outcome
        await running.store.put_person(
            Person(id="us_uma", kind="user", name="Uma", emails=["uma@example.test"])
        )
        yield running


async def _item(api: Api) -> tuple[str, dict[str, Any], str]:
    """(id, view, ETag) of the one item."""
    (summary,) = (await api.get("/v1/items")).json()["items"]
    got = await api.get(f"/v1/items/{summary['id']}")
    assert got.status_code == 200, got.text
    return summary["id"], got.json(), got.headers["ETag"]


async def _key(api: Api, scope: ApiScope) -> tuple[dict[str, str], str]:
    """(the Authorization header, the key's id) of a new key with `scope`."""
    record, key = new_api_key(f"{scope} key", [scope])
    await api.store.put_api_key(record)
    return {"Authorization": f"Bearer {key}"}, record.id


async def test_patch_applies_each_part_in_order_with_etag(api: Api) -> None:
    item_id, view, tag = await _item(api)
    assert tag == f'"v{view["version"]}"'
    assert view["creator_id"] is None and view["assignee_id"] is None
    assert view["requester_id"] and view["notify"] == []
    answer = await api.patch(
        f"/v1/items/{item_id}",
        json={"status": "in progress", "assignee_id": "us_uma", "priority": "high",
              "fields": {"region": "eu"}},
        headers={"If-Match": tag},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    print("PATCH applied:", body["applied"])
    assert [(a["command"], a["outcome"], a["changes"]) for a in body["applied"]] == [
        ("item.change_status.v1", "applied", ["status"]),
        ("item.assign.v1", "applied", ["assignee"]),
        ("item.set_fields.v1", "applied", ["priority", "fields"]),
    ]
    item = body["item"]
    assert item["version"] == view["version"] + 3
    assert answer.headers["ETag"] == f'"v{item["version"]}"'
    assert (item["status"], item["assignee_id"], item["priority"], item["fields"]) == (
        "in progress", "us_uma", "high", {"region": "eu"},
    )  # fmt: skip
    again = (await api.get(f"/v1/items/{item_id}")).json()
    assert again["assignee_id"] == "us_uma" and again["version"] == item["version"]
    # an explicit null unassigns and clears the priority; the old ETag is now stale: 412
    stale = await api.patch(
        f"/v1/items/{item_id}", json={"assignee_id": None}, headers={"If-Match": tag}
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["current_version"] == item["version"] and stale.json()["applied"] == []
    cleared = await api.patch(f"/v1/items/{item_id}", json={"assignee_id": None, "priority": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["item"]["assignee_id"] is None
    assert cleared.json()["item"]["priority"] is None
    assert "" in problems(await api.patch(f"/v1/items/{item_id}", json={}))


async def test_version_conflicts_refusals_and_unknown_items(api: Api) -> None:
    item_id, view, tag = await _item(api)
    path = f"/v1/items/{item_id}"
    old = view["version"]
    assert (await api.post(f"{path}/notes", json={"text": "first"})).status_code == 201
    conflict = await api.post(f"{path}/notes", json={"text": "second", "version": old})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["current_version"] == old + 1
    assert conflict.headers["ETag"] == f'"v{old + 1}"'
    precondition = await api.put(
        f"{path}/notify", json={"addresses": ["a@example.test"]}, headers={"If-Match": tag}
    )
    assert precondition.status_code == 412, precondition.text
    garbage = await api.patch(path, json={"status": "x"}, headers={"If-Match": '"nope"'})
    assert garbage.status_code == 412
    # the status applies, the assignee (a customer, not a user) is refused: 422 names both
    refused = await api.patch(path, json={"status": "waiting", "assignee_id": view["requester_id"]})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert "not a user" in body["detail"][0]["msg"]
    assert [a["command"] for a in body["applied"]] == ["item.change_status.v1"]
    assert body["current_version"] == old + 2
    unknown = await api.patch(path, json={"assignee_id": "us_nobody"})
    assert unknown.status_code == 422 and "no person" in unknown.json()["detail"][0]["msg"]
    assert "no item" in (await api.get("/v1/items/it_nope")).json()["detail"]
    for method, suffix, body_json in (
        ("PATCH", "", {"status": "x"}),
        ("POST", "/notes", {"text": "x"}),
        ("POST", "/replies", {"text": "x"}),
        ("PUT", "/notify", {"addresses": []}),
    ):
        missing = await api.call(method, f"/v1/items/it_nope{suffix}", json=body_json)
        assert missing.status_code == 404, (method, suffix, missing.text)
    assert "text" in problems(await api.post(f"{path}/notes", json={"text": "   "}))
    # what the schema lets through and the item refuses is a 422 with the reason too
    empty_fields = await api.patch(path, json={"workflow_step": "triage"})
    assert empty_fields.status_code == 422, empty_fields.text
    assert "no workflow" in empty_fields.json()["detail"][0]["msg"]


async def test_notes_and_replies_on_the_thread_once_per_idempotency_key(api: Api) -> None:
    item_id, view, _ = await _item(api)
    path = f"/v1/items/{item_id}"
    retry = {"Idempotency-Key": "note-7f3a"}
    first = await api.post(f"{path}/notes", json={"text": "Called the customer."}, headers=retry)
    assert first.status_code == 201, first.text
    note = first.json()["message"]
    assert (note["direction"], note["kind"], note["text"]) == (
        "note",
        "note",
        "Called the customer.",
    )
    assert note["author_id"] == "bootstrap" and note["delivery"] is None
    again = await api.post(f"{path}/notes", json={"text": "Called the customer."}, headers=retry)
    assert again.status_code == 201, again.text
    assert again.json()["applied"][0]["outcome"] == "duplicate"
    assert again.json()["applied"][0]["command_id"] == first.json()["applied"][0]["command_id"]
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode()
    reply_body = {
        "text": "We sent a technician.",
        "html": "<p>We sent a <b>technician</b>.</p>",
        "attachments": [
            {"filename": "plan.png", "content_type": "image/png", "content_base64": png}
        ],
    }
    reply = await api.post(f"{path}/replies", json=reply_body, headers={"Idempotency-Key": "r-1"})
    assert reply.status_code == 201, reply.text
    sent = reply.json()["message"]
    assert (sent["direction"], sent["kind"]) == ("out", "team_reply")
    assert f"[{view['token']}]" in sent["subject"]
    assert sent["in_reply_to"] == ["<work-1@example.org>"]
    assert sent["delivery"] == [
        {"recipient": "casey@example.org", "state": "pending", "sent_at": None}
    ]
    assert sent["attachments"][0]["filename"] == "plan.png"
    download = await api.get(sent["attachments"][0]["download_url"])
    assert download.content == b"\x89PNG\r\n\x1a\nnot really"
    # the replier's ledger says what became of the mail (as the replier keys it)
    claim = LedgerEntry(
        item_id=item_id,
        reason=f"team_reply:{sent['mail_key']}",
        recipient="casey@example.org",
        message_id=sent["message_id"],
    )
    assert await api.store.claim_ledger(claim, stale_before=claim.claimed_at) == "claimed"
    await api.store.mark_done(claim, "sent")
    shown = (await api.get(path)).json()["thread"][-1]["delivery"]
    assert [(d["recipient"], d["state"]) for d in shown] == [("casey@example.org", "sent")]
    assert shown[0]["sent_at"] is not None
    retried = await api.post(f"{path}/replies", json=reply_body, headers={"Idempotency-Key": "r-1"})
    assert retried.json()["applied"][0]["outcome"] == "duplicate"
    thread = (await api.get(path)).json()["thread"]
    print("thread:", [(m["direction"], m["kind"]) for m in thread])
    assert [(m["direction"], m["kind"]) for m in thread] == [
        ("in", "normal"), ("note", "note"), ("out", "team_reply"),
    ]  # fmt: skip
    bad = {"text": "x", "attachments": [{"filename": "a", "content_base64": "!!"}]}
    assert "attachments.0.content_base64" in problems(await api.post(f"{path}/replies", json=bad))


async def test_notify_list_is_set_whole(api: Api) -> None:
    item_id, _, _ = await _item(api)
    path = f"/v1/items/{item_id}/notify"
    first = await api.put(path, json={"addresses": ["A@example.test", "b@example.test"]})
    assert first.status_code == 200, first.text
    assert first.json()["item"]["notify"] == ["a@example.test", "b@example.test"]
    second = await api.put(path, json={"addresses": ["b@example.test", "c@example.test"]})
    assert second.json()["item"]["notify"] == ["b@example.test", "c@example.test"]
    same = await api.put(path, json={"addresses": ["b@example.test", "c@example.test"]})
    assert same.json()["applied"][0]["outcome"] == "unchanged"
    assert "addresses.0" in problems(await api.put(path, json={"addresses": ["nope"]}))


async def test_agent_keys_work_items_read_keys_only_read(api: Api) -> None:
    item_id, _, _ = await _item(api)
    (agent, agent_id), (read, _) = await _key(api, "agent"), await _key(api, "read")
    path = f"/v1/items/{item_id}"
    writes = (
        ("PATCH", "", {"status": "open"}),
        ("POST", "/notes", {"text": "by the agent"}),
        ("PUT", "/notify", {"addresses": ["lead@example.test"]}),
    )
    for method, suffix, body in writes:
        refused = await api.client.request(method, path + suffix, json=body, headers=read)
        assert refused.status_code == 403, (method, suffix, refused.text)
        done = await api.client.request(method, path + suffix, json=body, headers=agent)
        assert done.status_code in (200, 201), (method, suffix, done.text)
    assert (await api.client.get(path, headers=agent)).status_code == 200
    assert (await api.client.get("/v1/people", headers=agent)).status_code == 200
    note = (await api.client.get(path, headers=agent)).json()["thread"][-1]
    assert (note["kind"], note["author_id"]) == ("note", agent_id)
    for method, url in (("GET", "/v1/accounts"), ("POST", "/v1/accounts"),
                        ("GET", "/v1/workflows"), ("POST", "/v1/people")):  # fmt: skip
        answer = await api.client.request(method, url, json={}, headers=agent)
        assert answer.status_code == 403, (method, url, answer.text)


async def test_admin_clears_a_bounce_mark(api: Api) -> None:
    await api.store.put_person(Person(id="ct_gone", kind="contact", emails=["gone@example.org"]))
    mark = BounceMark(address="gone@example.org", code="5.1.1", reason="no such user")
    assert await api.store.set_bounce("ct_gone", mark)
    shown = (await api.get("/v1/people/ct_gone")).json()["bounce"]
    assert (shown["address"], shown["code"]) == ("gone@example.org", "5.1.1")
    read, _ = await _key(api, "read")
    refused = await api.client.delete("/v1/people/ct_gone/bounce", headers=read)
    assert refused.status_code == 403
    cleared = await api.delete("/v1/people/ct_gone/bounce")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["bounce"] is None
    assert (await api.store.get_person("ct_gone")).bounce is None  # type: ignore[union-attr]
    assert (await api.delete("/v1/people/ct_gone/bounce")).status_code == 200  # idempotent
    assert (await api.delete("/v1/people/ct_nobody/bounce")).status_code == 404
