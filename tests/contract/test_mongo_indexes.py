"""Every lookup the MongoDB store makes on a growing collection is served by an index.

The store's own commands are captured with PyMongo's command monitoring while each store method
runs, so the test checks the filters the code really sends, not a copy of them:

- `explain()`: the outbox relay's lookup (`pending_events`) and `mark_published` name the
  partial index `outbox_pending` (on a real MongoDB: an IXSCAN of it in the winning plan; the
  mongoeco test server always scans in memory, and its explain reports which partial indexes
  the filter can use, which is exactly the property that matters: an unpublished-events query
  that can only scan is what this replaces);
- every other filter (and the sort of an unfiltered listing) on a collection that grows with
  mail must start with the first field of one of the collection's indexes, which is the rule
  MongoDB's planner needs to use an index at all.
"""

import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.uri_parser import parse_uri

from postroom_shared.models import (
    AccountState,
    Item,
    ItemType,
    LedgerEntry,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
    ThreadMessage,
    utcnow,
)
from postroom_shared.store import ItemQuery, OutboxEvent, Store, StoreOptions
from tests.conftest import opened_store
from tests.factories import console_session

Doc = dict[str, Any]
# Collections that grow with mail and time (configuration collections stay small).
GROWING = {
    "items", "messages", "processing_log", "quarantine", "ledger", "sends", "seen_keys",
    "heartbeats", "leases", "blobs.files", "blobs.chunks", "api_keys", "people",
    "console_sessions", "small_blobs",
}  # fmt: skip


class _Recorder(monitoring.CommandListener):
    """Registered once per process (PyMongo cannot unregister); records only while on."""

    def __init__(self) -> None:
        self.on = False
        self.commands: list[Doc] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


_RECORDER = _Recorder()
monitoring.register(_RECORDER)


def _lookups(command: Doc) -> Iterator[tuple[str, Doc, Doc | None]]:
    """(collection, filter, sort) of every read, update and delete in a command."""
    name = next(iter(command))
    collection = command[name]
    if name == "find":
        yield collection, command.get("filter", {}), command.get("sort")
    elif name == "update":
        for update in command["updates"]:
            yield collection, update["q"], None
    elif name == "delete":
        for delete in command["deletes"]:
            yield collection, delete["q"], None
    elif name == "findAndModify":
        yield collection, command["query"], command.get("sort")
    elif name == "aggregate":
        match = command["pipeline"][0].get("$match", {}) if command["pipeline"] else {}
        yield collection, match, None


def _fields(query: Doc) -> set[str]:
    """Fields an index could serve: top level, inside $and, and common to every $or branch."""
    fields = {key for key in query if not key.startswith("$")}
    for part in query.get("$and", []):
        fields |= _fields(part)
    branches = [_fields(branch) for branch in query.get("$or", [])]
    if branches:
        fields |= set.intersection(*branches)
    return fields


async def _first_keys(url: str) -> dict[str, set[str]]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url)
    db = client[parse_uri(url)["database"]]
    keys = {}
    for name in GROWING:
        info = await db[name].index_information()
        keys[name] = {spec["key"][0][0] for spec in info.values()}
    await client.close()
    return keys


def _workload(store: Store) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    now = utcnow()
    item = Item(
        id="it1", item_type=ItemType.INCIDENT, number=1, project="P", account_id="a1", title="t"
    )
    first = ThreadMessage(key="k1", item_id="it1", account_id="a1", direction="in",
                          message_id="<k1@x>")  # fmt: skip
    reply = ThreadMessage(key="k2", item_id="it1", account_id="a1", direction="in",
                          message_id="<k2@x>")  # fmt: skip
    event = OutboxEvent(event_id="e1", routing_key="item.created.v1", body="{}")
    ledger = LedgerEntry(item_id="it1", reason="auto_reply:k1", recipient="c@x", message_id="<m>")
    entry = ProcessingLogEntry(id="k1:c", mail_key="k1", account_id="a1", stage="converter",
                               action="created", reason="r")  # fmt: skip
    quarantined = QuarantineEntry(id="q1", account_id="a1", mail_key="k9", reason="r",
                                  blob_ref="sha256:" + "0" * 64, event="{}")  # fmt: skip
    old = now - timedelta(days=400)
    send = SendRecord(recipient="c@x", item_id="it1", fingerprint="f")
    beat = ServiceHeartbeat(service="s", instance="i", ready=True)
    msgid = {"namespace_prefix": "msgid:"}

    async def blobs() -> None:
        # Small blobs are documents of `small_blobs`, larger ones GridFS files: both kinds.
        for data in (b"blob", b"b" * (StoreOptions().small_blob_max_bytes + 1)):
            ref = await store.put_blob(data)
            await store.put_blob(data)
            await store.get_blob(ref)

    return [
        ("insert_item", lambda: store.insert_item(item, first, [event])),
        ("insert_item (applied)", lambda: store.insert_item(item, first, [event])),
        ("append_message", lambda: store.append_message("it1", reply, [], add_participants=[])),
        ("item_for_mail", lambda: store.item_for_mail("k1")),
        ("find_item_by_number", lambda: store.find_item_by_number(ItemType.INCIDENT, 1)),
        ("find_item_by_message_ids", lambda: store.find_item_by_message_ids("a1", ["<k2@x>"])),
        ("query_items", lambda: store.query_items(ItemQuery())),
        ("query_items by account", lambda: store.query_items(ItemQuery(account_id="a1"))),
        ("list_messages", lambda: store.list_messages("it1")),
        ("pending_events", lambda: store.pending_events()),
        ("mark_published", lambda: store.mark_published("e1")),
        ("claim_ledger", lambda: store.claim_ledger(ledger, stale_before=old)),
        ("mark_done", lambda: store.mark_done(ledger, "sent")),
        ("put_quarantine", lambda: store.put_quarantine(quarantined)),
        ("list_quarantine", lambda: store.list_quarantine()),
        ("delete_quarantine", lambda: store.delete_quarantine("q1")),
        ("put_log", lambda: store.put_log(entry)),
        ("list_log by account", lambda: store.list_log(account_id="a1")),
        ("list_log by mail", lambda: store.list_log(mail_key="k1")),
        ("list_log since", lambda: store.list_log(since=old)),
        ("activity", lambda: store.activity(since=old, until=now)),
        ("activity by day", lambda: store.activity(since=old, until=now, bucket="day")),
        ("record_send", lambda: store.record_send(send)),
        ("sends_since", lambda: store.sends_since("c@x", old)),
        ("heartbeat", lambda: store.heartbeat(beat)),
        ("heartbeats", lambda: store.heartbeats(since=old)),
        ("acquire_lease", lambda: store.acquire_lease("fetch:a1", "me", 30)),
        ("release_lease", lambda: store.release_lease("fetch:a1", "me")),
        ("add_seen_keys", lambda: store.add_seen_keys("a1", "msgid:INBOX", ["<k1@x>"])),
        ("seen_keys", lambda: store.seen_keys("a1", "msgid:INBOX", ["<k1@x>"])),
        ("prune_seen_keys", lambda: store.prune_seen_keys("a1", "msgid:INBOX", ["<k1@x>"])),
        ("put_account_state", lambda: store.put_account_state(AccountState(account_id="a1"))),
        ("blobs", blobs),
        ("purge_log", lambda: store.purge_log(now)),
        ("purge_sends", lambda: store.purge_sends(now)),
        ("purge_ledger", lambda: store.purge_ledger(now)),
        ("purge_quarantine", lambda: store.purge_quarantine(now)),
        ("purge_heartbeats", lambda: store.purge_heartbeats(now)),
        ("purge_seen_keys", lambda: store.purge_seen_keys(now, account_ids=["a1"], **msgid)),
        ("put_session", lambda: store.put_session(console_session("s1"))),
        ("get_session", lambda: store.get_session("s1")),
        ("touch_session", lambda: store.touch_session("s1", now)),
        ("purge_sessions", lambda: store.purge_sessions(now)),
        ("delete_session", lambda: store.delete_session("s1")),
        ("purge_blobs", lambda: store.purge_blobs(now + timedelta(seconds=1))),
    ]


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    _RECORDER.commands.clear()
    yield _RECORDER
    _RECORDER.on = False
    _RECORDER.commands.clear()


async def test_every_lookup_on_a_growing_collection_has_an_index(
    mongo_db_url: str, recorder: _Recorder
) -> None:
    seen: list[tuple[str, str, Doc, Doc | None]] = []
    async with opened_store(mongo_db_url) as store:
        for method, call in _workload(store):
            recorder.on = True
            await call()
            recorder.on = False
            seen += [
                (method, *lookup) for command in recorder.commands for lookup in _lookups(command)
            ]
            recorder.commands.clear()
    # Read after the workload: GridFS makes its own indexes with the first upload.
    indexed = await _first_keys(mongo_db_url)
    unindexed = [
        f"{method}: {collection} {json.dumps(query, default=str)}"
        for method, collection, query, sort in seen
        if collection in GROWING
        and (wanted := _fields(query) or set(sort or {}))
        and not wanted & (indexed[collection] | {"_id"})
    ]
    print(f"{len(seen)} lookups checked")
    assert unindexed == []


def _uses(plan: Doc, index: str) -> bool:
    """Does an explain() answer show `index` serving the query (MongoDB or mongoeco)?"""
    if "queryPlanner" in plan:
        text = json.dumps(plan["queryPlanner"]["winningPlan"], default=str)
        return '"IXSCAN"' in text and f'"{index}"' in text
    return index in (plan.get("details") or {}).get("usableVirtualIndexes", [])


async def test_outbox_lookups_use_the_partial_outbox_index(
    mongo_db_url: str, recorder: _Recorder
) -> None:
    async with opened_store(mongo_db_url) as store:
        for n in range(30):  # many items whose events were published long ago
            item = Item(id=f"it{n}", item_type=ItemType.INCIDENT, number=n + 1, project="P",
                        account_id="a1", title="t")  # fmt: skip
            message = ThreadMessage(key=f"k{n}", item_id=item.id, account_id="a1", direction="in")
            event = OutboxEvent(event_id=f"e{n}", routing_key="item.created.v1", body="{}")
            await store.insert_item(item, message, [event])
            if n:
                await store.mark_published(f"e{n}")
        recorder.on = True
        assert [e.event_id for e in await store.pending_events()] == ["e0"]
        await store.mark_published("e0")
        recorder.on = False
    lookups = [
        (name, query) for command in recorder.commands
        for name, query, _ in _lookups(command) if name == "items"
    ]  # fmt: skip
    assert len(lookups) == 2
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_db_url)
    items = client[parse_uri(mongo_db_url)["database"]].items
    try:
        for _, query in lookups:
            plan = await items.find(query).explain()
            print(
                "explain",
                json.dumps(query),
                "->",
                (plan.get("details") or plan.get("queryPlanner")),
            )
            assert _uses(plan, "outbox_pending"), query
    finally:
        await client.close()
