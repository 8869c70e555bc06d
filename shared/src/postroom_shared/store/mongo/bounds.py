"""Time bounds for the MongoDB client, and what a call that hits one raises.

Without them PyMongo waits for ever on a server that accepts connections but never answers
(a hung or stopped process, a half-open connection after a network cut): a converter, the
replier or an API request would stall with it. Every operation gets a whole-call deadline
(`timeoutMS`, PyMongo's client-side operation timeout, which also bounds server selection,
pool checkout and every socket read), and the connection handshake its own shorter one.
`serverSelectionTimeoutMS` and `socketTimeoutMS` are set too, for a URL that turns the
deadline off (`timeoutMS=0`). Options the store URL sets itself are left to the URL.

A call that runs out of time, or finds no server, raises `StoreUnavailableError` (a
`TransientError`): consumers retry it later instead of quarantining the mail.
"""

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pymongo
from pymongo.errors import (
    ConnectionFailure,
    ExecutionTimeout,
    PyMongoError,
    WaitQueueTimeoutError,
    WTimeoutError,
)
from pymongo.uri_parser import parse_uri

from postroom_shared.store.ports import StoreOptions, StoreUnavailableError

__all__ = ["BLOB_CALLS", "bounded_calls", "client_bounds", "is_unavailable"]

# Calls that move a whole blob (up to the largest mail) get the blob bound instead. (Purges
# are many small operations, each under the ordinary bound, never one long deadline.)
BLOB_CALLS = frozenset({"put_blob", "get_blob"})


def client_bounds(url: str, options: StoreOptions) -> dict[str, Any]:
    """Keyword arguments for `AsyncMongoClient`: our bounds, minus those the URL sets."""
    in_url = {name.lower() for name in parse_uri(url)["options"]}
    call_ms = round(options.timeout_s * 1000)
    bounds = {
        "timeoutMS": call_ms,
        "connectTimeoutMS": round(options.connect_timeout_s * 1000),
        # Both only count where timeoutMS does not (a URL with timeoutMS=0): under it, server
        # selection and socket reads get what is left of the call's deadline.
        "serverSelectionTimeoutMS": round(options.server_selection_timeout_s * 1000),
        "socketTimeoutMS": call_ms,
    }
    return {name: value for name, value in bounds.items() if name.lower() not in in_url}


def is_unavailable(exc: PyMongoError) -> bool:
    """Did the server fail to answer (rather than refuse the operation)?"""
    unreachable = (ConnectionFailure, ExecutionTimeout, WaitQueueTimeoutError, WTimeoutError)
    return isinstance(exc, unreachable) or exc.timeout


def _bounded[**P, T](
    name: str, method: Callable[P, Awaitable[T]], blob_timeout_s: Callable[[Any], float]
) -> Callable[P, Awaitable[T]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            if name in BLOB_CALLS:
                with pymongo.timeout(blob_timeout_s(args[0])):
                    return await method(*args, **kwargs)
            return await method(*args, **kwargs)
        except PyMongoError as exc:
            if not is_unavailable(exc):
                raise
            raise StoreUnavailableError(f"MongoDB did not answer ({name}): {exc}") from exc

    return call


def bounded_calls[C: type](cls: C) -> C:
    """Class decorator: every public coroutine method of `cls` (inherited ones included)
    turns "no answer in time" into `StoreUnavailableError`; blob calls run under the
    instance's `blob_timeout_s`."""

    def blob_timeout(store: Any) -> float:
        return float(store.blob_timeout_s)

    for name in dir(cls):
        method = getattr(cls, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            continue
        setattr(cls, name, _bounded(name, method, blob_timeout))
    return cls
