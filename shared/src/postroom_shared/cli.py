"""`postroom`: small admin commands that work directly on the store.

postroom seed-demo     configure the demo support account (used by `make run`)
postroom health NAME   exit 0 when service NAME has a fresh ready heartbeat (container checks)
postroom api-key create|list|revoke, postroom rotate-secrets   (see admin_cli)
postroom dlq list|show|replay|purge   dead-letter queues (see dlq_cli)
postroom deliver --account NAME   one mail on stdin from an MTA to a push account (docs/push.md)
postroom cleanup       one retention pass: delete what the retention settings no longer keep
"""

import argparse
import asyncio
import importlib
import sys
from typing import Any

from postroom_shared import admin_cli, dlq_cli, retention
from postroom_shared.health import fresh_services
from postroom_shared.models import (
    AfterRead,
    AutoReplySettings,
    EmailAccount,
    ItemType,
    MailboxSettings,
    Security,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.settings import CommonSettings
from postroom_shared.store import open_store

__all__ = ["main"]

DEMO_ACCOUNT_ID = "acc_demo_support"


async def _seed_demo(args: argparse.Namespace) -> int:
    settings = CommonSettings()  # type: ignore[call-arg]  # values come from the environment
    box = SecretBox.from_settings(settings)
    store = await open_store(settings.store_url, settings.store_options())
    try:
        existing = await store.get_account(DEMO_ACCOUNT_ID)
        account = EmailAccount(
            id=DEMO_ACCOUNT_ID,
            name=args.name,
            address=args.address,
            mailbox=MailboxSettings(
                host=args.imap_host,
                port=args.imap_port,
                security=Security(args.security),
                verify_tls=not args.no_verify_tls,
                username=args.address,
                password_enc=box.encrypt(args.password),
                folder="INBOX",
            ),
            after_read=AfterRead.DELETE,
            poll_interval_s=args.poll_interval,
            item_type=ItemType.INCIDENT,
            project=args.project,
            auto_reply=AutoReplySettings(enabled=True, send_to_cc=False, first_mail_only=True),
        )
        if existing is not None:
            account.created_at = existing.created_at
        await store.put_account(account)
    finally:
        await store.close()
    print(f"demo account {args.name!r} reads {args.address} at {args.imap_host}:{args.imap_port}")
    return 0


async def _health(args: argparse.Namespace) -> int:
    settings = CommonSettings()  # type: ignore[call-arg]
    store = await open_store(settings.store_url, settings.store_options())
    try:
        beat = (await fresh_services(store)).get(args.service)
    finally:
        await store.close()
    if beat is None or not beat.ready:
        print(f"{args.service}: {beat.detail if beat else 'no fresh heartbeat'}", file=sys.stderr)
        return 1
    print(f"{args.service}: ready ({beat.instance})")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postroom", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed-demo", help="configure the demo support account")
    seed.add_argument("--name", default="Demo support")
    seed.add_argument("--address", default="support@example.test")
    seed.add_argument("--password", default="support")
    seed.add_argument("--imap-host", default="127.0.0.1")
    seed.add_argument("--imap-port", type=int, default=1143)
    seed.add_argument("--security", choices=[s.value for s in Security], default="none")
    seed.add_argument("--no-verify-tls", action="store_true")
    seed.add_argument("--project", default="Support")
    seed.add_argument("--poll-interval", type=float, default=2.0)
    health = sub.add_parser("health", help="is a service ready? (exit 0/1)")
    health.add_argument("service", choices=["fetcher", "converter", "replier"])
    parse = sub.add_parser("parse", help="print what the converter reads from a mail, as JSON")
    parse.add_argument("file", help="a mail file (RFC 5322 / .eml), or - for stdin")
    quarantine = sub.add_parser("quarantine", help="list, show, reprocess or discard poison mail")
    quarantine.add_argument("action", choices=["list", "show", "reprocess", "discard"])
    quarantine.add_argument("id", nargs="?", default="", help="quarantine id (all but list)")
    admin_cli.add_parsers(sub)
    retention.add_parser(sub)
    dlq_cli.add_parsers(sub)
    deliver = sub.add_parser(
        "deliver", help="hand one mail on stdin to a push account (MTA pipe; sysexits status)"
    )
    deliver.add_argument("--account", required=True, help="name (or id) of an active push account")
    deliver.add_argument("--env-file", default=None, help="POSTROOM_* settings file (dotenv)")
    deliver.add_argument("--timeout", type=float, default=60.0, help="seconds until exit 75")
    return parser


def _deliver(args: argparse.Namespace) -> int:
    # The fetcher owns mail intake; shared must not import it, so it is looked up at run time.
    try:
        module = importlib.import_module("postroom_fetcher.deliver")
    except ImportError:
        print("postroom deliver needs the postroom-fetcher package", file=sys.stderr)
        return 75  # EX_TEMPFAIL: the MTA keeps the mail until the installation is fixed
    result: int = module.main(args)
    return result


def _converter_module(name: str) -> Any:
    # The converter owns parsing and the quarantine; shared must not import it, so the
    # module is looked up at run time.
    try:
        return importlib.import_module(f"postroom_converter.{name}")
    except ImportError:
        print("this command needs the postroom-converter package", file=sys.stderr)
        return None


async def _quarantine(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.id:
        print(f"postroom quarantine {args.action} needs an id", file=sys.stderr)
        return 2
    module = _converter_module("quarantine_cli")
    if module is None:
        return 69
    result: int = await module.run(args)
    return result


def _parse(args: argparse.Namespace) -> int:
    describe = _converter_module("describe")
    if describe is None:
        return 69  # EX_UNAVAILABLE
    result: int = describe.main(args.file)
    return result


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "parse":
        sys.exit(_parse(args))
    if args.command == "deliver":
        sys.exit(_deliver(args))
    command = {
        "seed-demo": _seed_demo,
        "health": _health,
        "quarantine": _quarantine,
        **admin_cli.COMMANDS,
        "cleanup": retention.cleanup_command,
        **dlq_cli.COMMANDS,
    }[args.command]
    sys.exit(asyncio.run(command(args)))
