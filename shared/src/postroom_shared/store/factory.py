"""Choose the store adapter from POSTROOM_STORE_URL."""

from postroom_shared.errors import ConfigError
from postroom_shared.store.ports import Store, StoreOptions

__all__ = ["open_store"]


async def open_store(url: str, options: StoreOptions | None = None) -> Store:
    """A connected store for `url` (`sqlite:////path/db` or `mongodb://…`); `options` bound
    the time of every call (defaults: `StoreOptions()`; services pass
    `settings.store_options()`)."""
    store: Store
    if url.startswith("sqlite:///"):
        from postroom_shared.store.sqlite import SqliteStore

        store = SqliteStore(url.removeprefix("sqlite:///"), options)
    elif url.startswith(("mongodb://", "mongodb+srv://")):
        from postroom_shared.store.mongo import MongoStore

        store = MongoStore(url, options)
    else:
        raise ConfigError(f"unsupported store URL scheme: {url.split(':', 1)[0]!r}")
    await store.connect()
    return store
