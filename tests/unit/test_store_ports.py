"""The store's rooms: the role ports partition `Store`, each adapter module implements exactly
its port, and every service's narrow protocol is part of `Store` (checked here at run time, and
by mypy through the assignments at the bottom)."""

import inspect

import pytest

from postroom_api.store import ApiStore
from postroom_converter.store import ConverterStore
from postroom_fetcher.store import FetcherStore, ProbeStore
from postroom_replier.store import PreviewStore, ReplierStore
from postroom_shared.store import ports
from postroom_shared.store.mongo import MongoStore
from postroom_shared.store.mongo import blobs as mongo_blobs
from postroom_shared.store.mongo import config as mongo_config
from postroom_shared.store.mongo import fetch as mongo_fetch
from postroom_shared.store.mongo import items as mongo_items
from postroom_shared.store.mongo import items_batch as mongo_items_batch
from postroom_shared.store.mongo import ops as mongo_ops
from postroom_shared.store.mongo import replies as mongo_replies
from postroom_shared.store.mongo import retention as mongo_retention
from postroom_shared.store.mongo import sessions as mongo_sessions
from postroom_shared.store.mongo.base import MongoBase
from postroom_shared.store.sqlite import SqliteStore
from postroom_shared.store.sqlite import blobs as sqlite_blobs
from postroom_shared.store.sqlite import config as sqlite_config
from postroom_shared.store.sqlite import fetch as sqlite_fetch
from postroom_shared.store.sqlite import items as sqlite_items
from postroom_shared.store.sqlite import items_batch as sqlite_items_batch
from postroom_shared.store.sqlite import ops as sqlite_ops
from postroom_shared.store.sqlite import replies as sqlite_replies
from postroom_shared.store.sqlite import retention as sqlite_retention
from postroom_shared.store.sqlite import sessions as sqlite_sessions
from postroom_shared.store.sqlite.base import SqliteBase

# One port per role: together they are the whole store, and no method is in two of them.
ROLES: dict[str, type] = {
    "lifecycle": ports.Lifecycle,
    "config": ports.ConfigStore,
    "items": ports.ItemStore,
    "item_batches": ports.ItemBatches,
    "fetch": ports.FetchStore,
    "replies": ports.ReplyStore,
    "ops": ports.OpsStore,
    "blobs": ports.BlobStore,
    "retention": ports.Retention,
    "sessions": ports.ConsoleSessions,
}
ADAPTERS: dict[str, tuple[type, type]] = {
    "config": (sqlite_config.SqliteConfig, mongo_config.MongoConfig),
    "items": (sqlite_items.SqliteItems, mongo_items.MongoItems),
    "item_batches": (sqlite_items_batch.SqliteItemBatches, mongo_items_batch.MongoItemBatches),
    "fetch": (sqlite_fetch.SqliteFetch, mongo_fetch.MongoFetch),
    "replies": (sqlite_replies.SqliteReplies, mongo_replies.MongoReplies),
    "ops": (sqlite_ops.SqliteOps, mongo_ops.MongoOps),
    "blobs": (sqlite_blobs.SqliteBlobs, mongo_blobs.MongoBlobs),
    "retention": (sqlite_retention.SqliteRetention, mongo_retention.MongoRetention),
    "sessions": (sqlite_sessions.SqliteSessions, mongo_sessions.MongoSessions),
    "lifecycle": (SqliteBase, MongoBase),
}
SERVICES = [FetcherStore, ProbeStore, ConverterStore, ReplierStore, PreviewStore, ApiStore]


def _methods(protocol: type) -> set[str]:
    """The operations a protocol declares, its bases' included."""
    return {
        name
        for klass in protocol.__mro__
        if klass is not object and klass.__name__ not in {"Protocol", "Generic"}
        for name, value in vars(klass).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(value)
    }


def _own_methods(klass: type) -> set[str]:
    """Public coroutine methods defined in the class itself (not inherited)."""
    return {
        name
        for name, value in vars(klass).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(value)
    }


def test_role_ports_partition_the_store() -> None:
    seen: dict[str, str] = {}
    for role, port in ROLES.items():
        for name in _methods(port):
            assert name not in seen, f"{name} is in the {seen[name]} and the {role} port"
            seen[name] = role
    assert set(seen) == _methods(ports.Store)
    assert "list_items" not in seen  # only tests used it; they list through query_items


@pytest.mark.parametrize("role", sorted(ADAPTERS))
def test_each_adapter_module_implements_exactly_its_port(role: str) -> None:
    for adapter in ADAPTERS[role]:
        assert _own_methods(adapter) == _methods(ROLES[role]), adapter.__qualname__


@pytest.mark.parametrize("adapter", [SqliteStore, MongoStore], ids=lambda a: a.__name__)
def test_each_composed_store_is_the_whole_store(adapter: type) -> None:
    public = {
        name
        for name in dir(adapter)
        if not name.startswith("_") and inspect.iscoroutinefunction(getattr(adapter, name))
    }
    assert public == _methods(ports.Store)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.__name__)
def test_service_protocols_are_narrower_than_the_store(service: type) -> None:
    used = _methods(service)
    assert used < _methods(ports.Store)
    assert not used & _methods(ports.Retention)  # only the cleanup purges


def test_read_only_ports_hold_no_writes() -> None:
    for reader in (ports.ConfigReader, ports.ItemReader, ports.OpsReader, ports.AccountStates):
        writes = {n for n in _methods(reader) if n.startswith(("put_", "delete_", "set_"))}
        assert not writes, (reader.__name__, writes)


# mypy checks these: the whole store satisfies every service's protocol.
def _fetcher(store: ports.Store) -> FetcherStore:
    return store


def _converter(store: ports.Store) -> ConverterStore:
    return store


def _replier(store: ports.Store) -> ReplierStore:
    return store


def _api(store: ports.Store) -> ApiStore:
    return store


def _api_runs_the_converter_and_asks_the_fetcher(store: ApiStore) -> tuple[object, ...]:
    converter: ConverterStore = store
    probe: ProbeStore = store
    preview: PreviewStore = store
    return converter, probe, preview
