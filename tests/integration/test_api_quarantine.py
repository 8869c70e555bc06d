"""The quarantine over HTTP (docs/features.md F9): list, show, raw mail, reprocess through the
converter on the real broker, discard; on both stores."""

import hashlib
from collections.abc import AsyncIterator

import pytest

from postroom_converter.domain.outcome import Quarantined
from postroom_shared.models import QuarantineEntry
from tests import factories
from tests.integration.api_harness import Api, converter_for, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
# 150 nested multiparts: over the parser's depth cap, so the converter quarantines it.
DEEP = (
    b"From: a@example.org\r\nSubject: deep\r\n"
    + b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(150)
    )
    + b"Content-Type: text/plain\r\n\r\nhi\r\n"
)
FINE = b"From: Ann <ann@example.org>\r\nSubject: Lost once\r\nMessage-ID: <f@x>\r\n\r\nhello\r\n"


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        converter = await converter_for(running)
        outcome = await converter.handle(factories.mail_received("acc1/INBOX/1/1", DEEP))
        assert isinstance(outcome, Quarantined) and outcome.reason.startswith("MIME nesting")
        # a mail a since-fixed bug had quarantined: it converts fine now
        event = factories.mail_received("acc1/INBOX/1/2", FINE)
        blob_ref = await running.store.put_blob(FINE)
        stored_event = event.model_copy(update={"raw_inline": None, "blob_ref": blob_ref})
        await running.store.put_quarantine(
            QuarantineEntry(
                id="q_" + hashlib.sha256(event.mail_key.encode()).hexdigest()[:20],
                account_id="acc1",
                mail_key=event.mail_key,
                reason="failed repeatedly: RuntimeError('bug')",
                blob_ref=blob_ref,
                event=stored_event.model_dump_json(),
            )
        )
        yield running


async def test_a_headers_only_entry_is_not_reprocessed(api: Api) -> None:
    headers = b"From: big@example.org\r\nSubject: huge\r\n\r\n"
    blob_ref = await api.store.put_blob(headers)
    event = factories.mail_received("acc1/INBOX/1/9", headers)
    await api.store.put_quarantine(
        QuarantineEntry(
            id="q_big",
            account_id="acc1",
            mail_key=event.mail_key,
            reason="mail of 30000000 bytes exceeds the account's size limit",
            blob_ref=blob_ref,
            event=event.model_copy(
                update={"raw_inline": None, "blob_ref": blob_ref}
            ).model_dump_json(),
            headers_only=True,
        )
    )
    refused = await api.post("/v1/quarantine/q_big/reprocess")
    assert refused.status_code == 409, refused.text
    assert "still in the mailbox" in refused.json()["detail"]
    assert (await api.get("/v1/quarantine/q_big")).status_code == 200  # it stays
    assert (await api.get("/v1/items")).json()["items"] == []


async def test_list_show_raw_reprocess_discard(api: Api) -> None:
    page = (await api.get("/v1/quarantine")).json()
    assert page["total"] == 2
    by_key = {e["mail_key"]: e for e in page["entries"]}
    deep, fine = by_key["acc1/INBOX/1/1"], by_key["acc1/INBOX/1/2"]
    assert "MIME nesting" in deep["reason"] and deep["attempts"] == 1
    assert (await api.get(f"/v1/quarantine/{deep['id']}")).json() == deep
    raw = await api.get(deep["raw_url"])
    assert raw.status_code == 200 and raw.content == DEEP
    assert raw.headers["content-type"] == "message/rfc822"
    assert len((await api.get("/v1/quarantine", params={"limit": 1})).json()["entries"]) == 1

    again = await api.post(f"/v1/quarantine/{deep['id']}/reprocess")
    assert again.status_code == 200, again.text
    assert again.json()["quarantined"] is True
    assert again.json()["outcome"].startswith("quarantined: MIME nesting")
    assert (await api.get(f"/v1/quarantine/{deep['id']}")).json()["attempts"] == 2

    fixed = await api.post(f"/v1/quarantine/{fine['id']}/reprocess")
    assert fixed.status_code == 200, fixed.text
    assert fixed.json() == {"outcome": fixed.json()["outcome"], "quarantined": False}
    assert fixed.json()["outcome"].startswith("created")
    assert (await api.get(f"/v1/quarantine/{fine['id']}")).status_code == 404
    items = (await api.get("/v1/items")).json()["items"]
    assert [i["title"] for i in items] == ["Lost once"]
    log = (await api.get("/v1/log", params={"mail_key": "acc1/INBOX/1/2"})).json()
    assert log[0]["action"] == "created"

    assert (await api.delete(f"/v1/quarantine/{deep['id']}")).status_code == 204
    assert (await api.delete(f"/v1/quarantine/{deep['id']}")).status_code == 404
    assert (await api.post(f"/v1/quarantine/{deep['id']}/reprocess")).status_code == 404
    assert (await api.get("/v1/quarantine")).json() == {"total": 0, "entries": []}
    assert (await api.get("/v1/quarantine/bad id")).status_code == 422
