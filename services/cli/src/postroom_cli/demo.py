"""`postroom seed-demo`: configure the demo support account that `make run` and the compose
file start with (idempotent: a second run updates the same account)."""

import argparse
from typing import Any

from postroom_cli.command import Command, common_settings, opened_store
from postroom_shared.models import (
    AfterRead,
    AutoReplySettings,
    EmailAccount,
    ItemType,
    MailboxSettings,
    Security,
)
from postroom_shared.secretbox import SecretBox

__all__ = ["COMMANDS", "DEMO_ACCOUNT_ID", "add_parsers"]

DEMO_ACCOUNT_ID = "acc_demo_support"


def add_parsers(sub: Any) -> None:
    """Register `seed-demo` on the `postroom` sub-command parser."""
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


def demo_account(args: argparse.Namespace, box: SecretBox) -> EmailAccount:
    """The demo account the arguments describe: IMAP, delete after reading, auto-replies to
    the first mail of each thread, incidents in the given project."""
    return EmailAccount(
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


async def _seed_demo(args: argparse.Namespace) -> int:
    settings = common_settings()
    account = demo_account(args, SecretBox.from_settings(settings))
    async with opened_store(settings) as store:
        existing = await store.get_account(DEMO_ACCOUNT_ID)
        if existing is not None:
            account.created_at = existing.created_at
        await store.put_account(account)
    print(f"demo account {args.name!r} reads {args.address} at {args.imap_host}:{args.imap_port}")
    return 0


COMMANDS: dict[str, Command] = {"seed-demo": _seed_demo}
