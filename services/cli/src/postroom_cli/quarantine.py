"""`postroom quarantine list|show|reprocess|discard`: poison mail from a shell.

Reprocessing runs the mail through the converter in this process (`postroom_converter.ops`,
store and broker from the POSTROOM_* settings), exactly as the service would, so the fix of a
converter bug or a config error can be applied to the mail that suffered from it.
"""

import argparse
import json
import sys
from typing import Any

from postroom_cli.command import Command, common_settings, opened_store
from postroom_converter import ops
from postroom_shared.runtime import connect_with_retry, make_broker
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store
from postroom_shared.topology import declare_topology

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `quarantine` on the `postroom` sub-command parser."""
    quarantine = sub.add_parser("quarantine", help="list, show, reprocess or discard poison mail")
    quarantine.add_argument("action", choices=["list", "show", "reprocess", "discard"])
    quarantine.add_argument("id", nargs="?", default="", help="quarantine id (all but list)")


async def _list(store: Store) -> int:
    for entry in await store.list_quarantine(limit=1000):
        print(
            f"{entry.id}\t{entry.created_at:%Y-%m-%d %H:%M}\t{entry.attempts}\t"
            f"{entry.mail_key}\t{entry.reason}"
        )
    return 0


async def _show(store: Store, entry_id: str) -> int:
    entry = await store.get_quarantine(entry_id)
    if entry is None:
        print(f"no quarantine entry {entry_id}", file=sys.stderr)
        return 1
    print(json.dumps(entry.model_dump(mode="json", exclude={"event"}), indent=2))
    return 0


async def _reprocess(store: Store, settings: CommonSettings, entry_id: str) -> int:
    broker = make_broker(settings)
    await connect_with_retry(broker, deadline_s=30)
    try:
        await declare_topology(broker)
        secret_key = settings.secret_key.get_secret_value()
        outcome = await ops.reprocess(store, broker, secret_key=secret_key, entry_id=entry_id)
    except KeyError:
        print(f"no quarantine entry {entry_id}", file=sys.stderr)
        return 1
    except ops.HeadersOnlyError as exc:
        print(f"{entry_id}: {exc}", file=sys.stderr)
        return 1
    finally:
        await broker.stop()
    print(outcome)
    return 0


async def _discard(store: Store, entry_id: str) -> int:
    deleted = await store.delete_quarantine(entry_id)
    print("discarded" if deleted else f"no quarantine entry {entry_id}")
    return 0 if deleted else 1


async def _quarantine(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.id:
        print(f"postroom quarantine {args.action} needs an id", file=sys.stderr)
        return 2
    settings = common_settings()
    async with opened_store(settings) as store:
        if args.action == "list":
            return await _list(store)
        if args.action == "show":
            return await _show(store, args.id)
        if args.action == "reprocess":
            return await _reprocess(store, settings, args.id)
        return await _discard(store, args.id)


COMMANDS: dict[str, Command] = {"quarantine": _quarantine}
