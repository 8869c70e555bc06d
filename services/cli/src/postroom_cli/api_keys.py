"""`postroom api-key create|list|revoke`: API keys from a shell on a machine with the store.

postroom api-key create --name N --scope read [--scope deliver] [--account ID]
postroom api-key list
postroom api-key revoke ID

`create` prints the key alone on stdout (capture it: KEY=$(postroom api-key create ...)) and
what it made on stderr; the key is not stored and cannot be shown again.
"""

import argparse
import sys
from typing import Any, get_args

from postroom_cli.command import Command, opened_store
from postroom_shared.apikeys import new_api_key
from postroom_shared.models import ApiScope

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `api-key` on the `postroom` sub-command parser."""
    keys = sub.add_parser("api-key", help="create, list or revoke API keys")
    actions = keys.add_subparsers(dest="key_action", required=True)
    create = actions.add_parser("create", help="create a key; prints it once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=list(get_args(ApiScope)),
        help="admin, read (GET only), deliver (push mail) or agent (work items);"
        " repeat for several",
    )
    create.add_argument(
        "--account", action="append", default=[], help="deliver: limit to this account id"
    )
    actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id")


async def _api_key(args: argparse.Namespace) -> int:
    async with opened_store() as store:
        if args.key_action == "create":
            record, key = new_api_key(args.name, args.scope, args.account)
            await store.put_api_key(record)
            print(
                f"created {record.id} ({record.name}, scopes {','.join(record.scopes)}); the key"
                " follows on stdout and is not shown again",
                file=sys.stderr,
            )
            print(key)
            return 0
        if args.key_action == "list":
            for item in await store.list_api_keys():
                state = f"revoked {item.revoked_at:%Y-%m-%d %H:%M}" if item.revoked_at else "active"
                accounts = ",".join(item.account_ids) or "-"
                print(
                    f"{item.id}\t{item.prefix}\t{','.join(item.scopes)}\t{accounts}\t{state}"
                    f"\t{item.name}"
                )
            return 0
        if not await store.revoke_api_key(args.id):
            print(f"no active API key {args.id!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.id}")
        return 0


COMMANDS: dict[str, Command] = {"api-key": _api_key}
