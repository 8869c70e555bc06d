"""Contract of the configuration port (accounts, SMTP settings, workflows, templates, people and
contacts, API keys, refresh tokens), on SQLite and on MongoDB.

Every test runs on both adapters (the `store` fixture, tests/conftest.py); MongoDB is the
mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

from typing import Protocol

import pytest

from postroom_shared.models import (
    AccountState,
    ApiKey,
    Checkpoint,
    EmailAccount,
    MailboxSettings,
    NotificationTemplate,
    OAuthSettings,
    Person,
    SmtpSettings,
    Workflow,
    WorkflowStep,
)
from postroom_shared.store.ports import ConfigStore, FetchStore


class AccountsAndFetchState(ConfigStore, FetchStore, Protocol):
    """Deleting an account takes its fetch state with it."""


def _account(account_id: str = "acc1", name: str = "Support", active: bool = True) -> EmailAccount:
    return EmailAccount(
        id=account_id,
        name=name,
        address=f"{account_id}@example.test",
        project="Support",
        active=active,
        mailbox=MailboxSettings(host="127.0.0.1", port=143, username="u", password_enc="v1:x"),
    )


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


async def test_accounts(store: ConfigStore) -> None:
    await store.put_account(_account("a1", "One"))
    await store.put_account(_account("a2", "Two", active=False))
    assert [a.id for a in await store.list_accounts()] == ["a1", "a2"]
    assert [a.id for a in await store.list_accounts(active_only=True)] == ["a1"]
    renamed = _account("a1", "Uno")
    await store.put_account(renamed)
    got = await store.get_account("a1")
    assert got is not None and got.name == "Uno" and got.box.password_enc == "v1:x"
    with pytest.raises(ValueError, match="already exists"):
        await store.put_account(_account("a3", "Two"))
    assert await store.get_account("nope") is None


async def test_smtp_settings(store: ConfigStore) -> None:
    assert await store.get_smtp_settings() is None
    await store.put_smtp_settings(SmtpSettings(host="smtp.x.test", port=587))
    smtp = await store.get_smtp_settings()
    assert smtp is not None and smtp.host == "smtp.x.test"


async def test_workflows(store: ConfigStore) -> None:
    assert await store.get_workflow("wf") is None
    flow = Workflow(
        id="wf",
        name="Help desk",
        steps=[
            WorkflowStep(name="New"),
            WorkflowStep(name="Closed", on_new_email="Reopened"),
            WorkflowStep(name="Reopened"),
        ],
    )
    await store.put_workflow(flow)
    got = await store.get_workflow("wf")
    assert got == flow
    assert got.next_step_on_email("Closed") == "Reopened"
    assert got.next_step_on_email("New") is None


async def test_templates(store: ConfigStore) -> None:
    assert await store.get_template("t1") is None
    template = NotificationTemplate(id="t1", name="Thanks", text="Hi {{ message.sender_name }}")
    await store.put_template(template)
    assert await store.get_template("t1") == template


async def test_people_by_address(store: ConfigStore) -> None:
    alice = Person(id="u1", kind="user", name="Alice", emails=["alice@x.test", "a@x.test"])
    await store.put_person(alice)
    found = await store.find_person("A@X.TEST")
    assert found is not None and found.id == "u1"
    with pytest.raises(ValueError, match="belongs to another person"):
        await store.put_person(Person(id="u2", kind="customer", emails=["a@x.test"]))
    contact = Person(id="c1", kind="contact", name="New", emails=["new@x.test"])
    assert await store.ensure_contact(contact) == contact
    again = await store.ensure_contact(contact.model_copy(update={"id": "c2"}))
    assert again.id == "c1"
    assert (
        await store.ensure_contact(Person(id="c3", kind="contact", emails=["a@x.test"]))
    ).id == "u1"


async def test_api_keys(store: ConfigStore) -> None:
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


async def test_refresh_token_and_deleting_an_account_with_its_fetch_state(
    store: AccountsAndFetchState,
) -> None:
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


async def test_smtp_refresh_token_and_listing_and_deleting_config(store: ConfigStore) -> None:
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
