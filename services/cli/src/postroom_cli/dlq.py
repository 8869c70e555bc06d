"""`postroom dlq`: the dead-letter queues from a shell (the API has the same: /v1/deadletters).

postroom dlq list                       every consumer queue with the count of its DLQ
postroom dlq list QUEUE [--limit N]     the first N dead letters of QUEUE: id, type, try, reason
postroom dlq show QUEUE MESSAGE_ID      one dead letter as JSON, body included
postroom dlq replay QUEUE [MESSAGE_ID]  back to QUEUE with the attempt count reset (all, or one)
postroom dlq purge QUEUE --yes          drop every dead letter of QUEUE

QUEUE is a consumer queue such as converter.mail.received.v1 (its DLQ is <QUEUE>.dlq). Needs
POSTROOM_BROKER_URL (and, like every `postroom` command, the other POSTROOM_* settings).
"""

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from postroom_cli.command import Command, common_settings
from postroom_shared import deadletters
from postroom_shared.broker_admin import BrokerAdmin

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `dlq` on the `postroom` sub-command parser."""
    dlq = sub.add_parser(
        "dlq",
        help="list, show, replay or purge dead-letter queues",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dlq.add_argument("action", choices=["list", "show", "replay", "purge"])
    dlq.add_argument("queue", nargs="?", default="", help="a consumer queue (all but list)")
    dlq.add_argument("message_id", nargs="?", default="", help="show: required; replay: one")
    dlq.add_argument("--limit", type=int, default=20, help="list: how many messages to show")
    dlq.add_argument("--yes", action="store_true", help="purge: really drop them")


async def _dlq(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        print(f"postroom dlq {args.action}: {problem}", file=sys.stderr)
        return 2
    admin = BrokerAdmin(common_settings().broker_url)
    try:
        return await _run(admin, args)
    except deadletters.UnknownQueueError:
        known = ", ".join(deadletters.consumer_queues())
        print(f"no consumer queue {args.queue!r}; one of: {known}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"postroom dlq {args.action}: the broker failed: {exc!r}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again
    finally:
        await admin.close()


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.action != "list" and not args.queue:
        return "needs a QUEUE"
    if args.action == "show" and not args.message_id:
        return "needs a MESSAGE_ID"
    if args.action == "purge" and not args.yes:
        return f"drops every dead letter of {args.queue}: add --yes"
    if args.limit < 1:
        return "--limit must be at least 1"
    return None


async def _run(admin: BrokerAdmin, args: argparse.Namespace) -> int:
    if args.action == "list" and not args.queue:
        for queue, count in (await deadletters.dlq_counts(admin)).items():
            print(f"{queue}\t{count}")
        return 0
    if args.action == "list":
        count, infos = await deadletters.list_dead_letters(admin, args.queue, limit=args.limit)
        print(f"{count} dead letter(s) in {args.queue}.dlq", file=sys.stderr)
        for info in infos:
            print(
                f"{info.message_id}\t{info.type}\ttry {info.attempt}\t{info.failed_at or '-'}"
                f"\t{info.reason}"
            )
        return 0
    if args.action == "show":
        found = await deadletters.show(admin, args.queue, args.message_id)
        if found is None:
            print(f"no dead letter {args.message_id} in {args.queue}.dlq", file=sys.stderr)
            return 1
        shown = asdict(found) | {"body": (found.body or b"").decode("utf-8", "replace")}
        print(json.dumps(shown, indent=2))
        return 0
    if args.action == "replay":
        moved = await deadletters.replay(admin, args.queue, args.message_id or None)
        print(f"replayed {moved} message(s) to {args.queue}")
        return 0 if moved or not args.message_id else 1
    purged = await deadletters.purge(admin, args.queue)
    print(f"purged {purged} message(s) from {args.queue}.dlq")
    return 0


COMMANDS: dict[str, Command] = {"dlq": _dlq}
