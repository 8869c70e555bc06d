"""Contract of the ports added for the fetcher's coordination and the admin API: leases,
account states, seen keys, API keys, item queries with a cursor, listing and deleting config.
Every test runs on SQLite and on MongoDB (the `store_url` fixture)."""

import asyncio
from datetime import timedelta

from postroom_shared.models import (
    AccountState,
    ApiKey,
    Checkpoint,
    EmailAccount,
    Item,
    ItemType,
    MailboxSettings,
    NotificationTemplate,
    OAuthSettings,
    Party,
    Person,
    ProcessingLogEntry,
    QuarantineEntry,
    SmtpSettings,
    ThreadMessage,
    Workflow,
    WorkflowStep,
    utcnow,
)
from postroom_shared.store import ItemQuery, Store


async def test_lease_is_exclusive_until_it_expires_or_is_released(store: Store) -> None:
    assert await store.acquire_lease("account:a1", "r1", 30)
    assert not await store.acquire_lease("account:a1", "r2", 30)
    assert await store.acquire_lease("account:a1", "r1", 30)  # renewal
    await store.release_lease("account:a1", "r2")  # not the holder: no effect
    assert not await store.acquire_lease("account:a1", "r2", 30)
    await store.release_lease("account:a1", "r1")
    assert await store.acquire_lease("account:a1", "r2", 0.2)
    await asyncio.sleep(0.3)
    assert await store.acquire_lease("account:a1", "r3", 30)  # r2 died: expired


async def test_concurrent_lease_takers_get_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.acquire_lease("L", f"o{i}", 30) for i in range(8)))
    assert sum(results) == 1


async def test_account_state_roundtrip(store: Store) -> None:
    assert await store.get_account_state("a1") is None
    state = AccountState(account_id="a1", status="error", error_kind="auth", failures=2)
    await store.put_account_state(state)
    await store.put_account_state(AccountState(account_id="a0"))
    got = await store.get_account_state("a1")
    assert got is not None and got.status == "error" and got.failures == 2
    assert [s.account_id for s in await store.list_account_states()] == ["a0", "a1"]


async def test_seen_keys(store: Store) -> None:
    await store.add_seen_keys("a1", "uidl", ["u1", "u2", "u3"])
    await store.add_seen_keys("a1", "uidl", ["u3"])  # idempotent
    await store.add_seen_keys("a2", "uidl", ["u9"])
    assert await store.seen_keys("a1", "uidl", ["u1", "u3", "u9", "zz"]) == {"u1", "u3"}
    assert await store.seen_keys("a1", "msgid:INBOX", ["u1"]) == set()
    assert await store.prune_seen_keys("a1", "uidl", ["u2", "new"]) == 2
    assert await store.seen_keys("a1", "uidl", ["u1", "u2", "u3"]) == {"u2"}
    assert await store.seen_keys("a2", "uidl", ["u9"]) == {"u9"}


async def test_api_keys(store: Store) -> None:
    key = ApiKey(id="k1", name="ci", scopes=["read"], key_hash="h" * 64, prefix="pr_abc")
    await store.put_api_key(key)
    got = await store.get_api_key_by_hash("h" * 64)
    assert got is not None and got.scopes == ["read"] and got.revoked_at is None
    assert await store.get_api_key_by_hash("x" * 64) is None
    assert await store.revoke_api_key("k1")
    assert not await store.revoke_api_key("k1")
    assert not await store.revoke_api_key("nope")
    revoked = await store.get_api_key_by_hash("h" * 64)
    assert revoked is not None and revoked.revoked_at is not None
    assert [k.id for k in await store.list_api_keys()] == ["k1"]


def _oauth_account(account_id: str) -> EmailAccount:
    return EmailAccount(
        id=account_id,
        name=account_id,
        address=f"{account_id}@example.test",
        project="P",
        provider="microsoft",
        mailbox=MailboxSettings(host="h", port=993, username="u"),
        oauth=OAuthSettings(client_id="c", refresh_token_enc="v1:old"),
    )


async def test_config_listing_deleting_and_refresh_token(store: Store) -> None:
    await store.put_account(_oauth_account("a1"))
    assert await store.set_refresh_token("a1", "v1:new")
    got = await store.get_account("a1")
    assert got is not None and got.oauth is not None
    assert got.oauth.refresh_token_enc == "v1:new" and got.oauth.client_id == "c"
    assert not await store.set_refresh_token("missing", "v1:x")
    await store.put_account_state(AccountState(account_id="a1", status="error"))
    await store.set_checkpoint(
        Checkpoint(account_id="a1", folder="INBOX", uidvalidity=1, last_uid=5)
    )
    await store.add_seen_keys("a1", "uidl", ["u1"])
    assert await store.acquire_lease("fetch:a1", "r1", 60)
    assert await store.delete_account("a1") and not await store.delete_account("a1")
    # its fetch state went with it: a new account with the same id starts clean
    assert await store.get_account_state("a1") is None
    assert await store.get_checkpoint("a1", "INBOX") is None
    assert await store.seen_keys("a1", "uidl", ["u1"]) == set()
    assert await store.acquire_lease("fetch:a1", "r2", 60)

    assert not await store.set_refresh_token("smtp", "v1:x")  # no SMTP settings yet
    await store.put_smtp_settings(
        SmtpSettings(host="s", port=587, auth="xoauth2", oauth=OAuthSettings(client_id="c"))
    )
    assert await store.set_refresh_token("smtp", "v1:smtp")
    smtp = await store.get_smtp_settings()
    assert smtp is not None and smtp.oauth is not None and smtp.oauth.refresh_token_enc == "v1:smtp"
    assert await store.delete_smtp_settings() and await store.get_smtp_settings() is None

    await store.put_workflow(Workflow(id="w2", name="B", steps=[WorkflowStep(name="s")]))
    await store.put_workflow(Workflow(id="w1", name="A", steps=[WorkflowStep(name="s")]))
    assert [w.id for w in await store.list_workflows()] == ["w1", "w2"]
    assert await store.delete_workflow("w1") and [w.id for w in await store.list_workflows()] == [
        "w2"
    ]
    await store.put_template(NotificationTemplate(id="t1", name="T", text="x"))
    assert [t.id for t in await store.list_templates()] == ["t1"]
    assert await store.delete_template("t1") and await store.list_templates() == []

    await store.put_person(Person(id="p1", kind="customer", emails=["c@x.test"]))
    await store.put_person(Person(id="p2", kind="user", emails=["u@x.test"]))
    assert [p.id for p in await store.list_people(kind="user")] == ["p2"]
    assert [p.id for p in await store.list_people()] == ["p1", "p2"]
    got_person = await store.get_person("p1")
    assert got_person is not None and got_person.emails == ["c@x.test"]
    assert await store.delete_person("p1")
    assert await store.find_person("c@x.test") is None
    # the address is free again
    await store.put_person(Person(id="p3", kind="customer", emails=["c@x.test"]))


async def _add_item(store: Store, n: int, **fields: object) -> Item:
    base = utcnow() - timedelta(minutes=100)
    values: dict[str, object] = {
        "id": f"it_{n:03d}",
        "item_type": ItemType.INCIDENT,
        "number": n,
        "project": "P",
        "account_id": "a1",
        "title": f"Printer {n}",
        "requester": Party(address="Cust@X.test"),
        "created_at": base + timedelta(minutes=n // 2),  # pairs share a timestamp
    }
    values.update(fields)
    item = Item.model_validate(values)
    msg = ThreadMessage(key=f"k{n}", item_id=item.id, account_id="a1", direction="in")
    assert await store.insert_item(item, msg, [])
    return item


async def test_query_items_filters_and_cursor(store: Store) -> None:
    for n in range(1, 8):
        await _add_item(store, n)
    await _add_item(store, 8, status="closed", title="Scanner jam", account_id="a2")
    await _add_item(store, 9, item_type=ItemType.DEFECT, project="Q", requester_id="p7")

    everything = await store.query_items(ItemQuery())
    assert [i.number for i in everything] == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    pages: list[int] = []
    cursor = None
    while True:
        page = await store.query_items(ItemQuery(limit=2, before=cursor))
        pages += [i.number for i in page]
        if len(page) < 2:
            break
        cursor = (page[-1].created_at, page[-1].id)
    assert pages == [9, 8, 7, 6, 5, 4, 3, 2, 1]

    def numbers(items: list[Item]) -> list[int]:
        return [i.number for i in items]

    assert numbers(await store.query_items(ItemQuery(status="closed"))) == [8]
    assert numbers(await store.query_items(ItemQuery(account_id="a2"))) == [8]
    assert numbers(await store.query_items(ItemQuery(item_type=ItemType.DEFECT))) == [9]
    assert numbers(await store.query_items(ItemQuery(project="Q"))) == [9]
    assert numbers(await store.query_items(ItemQuery(text="SCANNER"))) == [8]
    assert numbers(await store.query_items(ItemQuery(requester="p7"))) == [9]
    assert len(await store.query_items(ItemQuery(requester="cust@x.test"))) == 9
    # operator-looking and regex-looking values are plain values
    assert await store.query_items(ItemQuery(text=".*")) == []
    assert await store.query_items(ItemQuery(status='{"$ne": null}')) == []


async def test_log_time_window_and_quarantine_count(store: Store) -> None:
    now = utcnow()
    for i in range(3):
        await store.put_log(
            ProcessingLogEntry(
                id=f"l{i}",
                mail_key=f"m{i}",
                account_id="a1",
                stage="converter",
                action="created",
                reason="r",
                at=now - timedelta(hours=i),
            )
        )
    recent = await store.list_log(since=now - timedelta(minutes=90))
    assert [e.id for e in recent] == ["l0", "l1"]
    older = await store.list_log(until=now - timedelta(minutes=30))
    assert [e.id for e in older] == ["l1", "l2"]
    assert await store.count_quarantine() == 0
    await store.put_quarantine(
        QuarantineEntry(
            id="q1", account_id="a1", mail_key="m", reason="r", blob_ref="b", event="{}"
        )
    )
    assert await store.count_quarantine() == 1
