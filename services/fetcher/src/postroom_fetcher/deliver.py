"""`postroom deliver --account NAME`: an MTA hands Postroom one mail on stdin (push accounts).

Postfix's pipe transport, an alias `|postroom deliver ...`, or any MDA hook runs this once per
mail and reads the exit status the sendmail way (sysexits.h): 0 means delivered, 75 means try
again later, anything else bounces. So whatever can heal by itself (broker or store down, a
timeout, settings being fixed) exits 75 and the mail waits in the MTA's queue; only what can
never succeed (empty or oversized mail, an unknown account) bounces. Exit 0 comes after the
broker confirmed the publish, so the MTA may then forget the mail.

The mail key is the hash of the bytes (`Origin.push`): an MTA that retries after a timeout
delivers the same bytes again, and the converter drops the second copy by that key.
"""

import argparse
import asyncio
import logging
import sys
from typing import BinaryIO

from pydantic import ValidationError

from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.sync.outlet import Outlet
from postroom_fetcher.sync.publish import publish_mail
from postroom_shared.models import EmailAccount, mail_size_limit
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store, open_store
from postroom_shared.topology import declare_topology

__all__ = [
    "EX_DATAERR",
    "EX_NOUSER",
    "EX_OK",
    "EX_TEMPFAIL",
    "DeliveryError",
    "deliver",
    "find_push_account",
    "main",
    "read_mail",
]

EX_OK = 0
EX_DATAERR = 65  # bounce: the input is not a mail we can take
EX_NOUSER = 67  # bounce: no such (active push) account
EX_TEMPFAIL = 75  # the MTA keeps the mail and retries
SOURCE = "deliver"


class DeliveryError(Exception):
    """Why this delivery failed, with the exit status the MTA must see."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_mail(stream: BinaryIO, limit: int) -> bytes:
    """The mail on `stream`, at most `limit` bytes, without an mbox `From ` envelope line.

    Postfix's local(8) and pipe(8) with flag F put `From sender date` in front of the mail; it is
    no header, and its time stamp would give every retry of one mail a new key.
    """
    try:
        raw = stream.read(limit + 1)
    except OSError as exc:
        raise DeliveryError(EX_DATAERR, f"cannot read the mail from stdin: {exc}") from exc
    if raw.startswith(b"From "):
        _, _, raw = raw.partition(b"\n")
    if not raw.strip():
        raise DeliveryError(EX_DATAERR, "no mail on stdin (empty input)")
    if len(raw) > limit:
        raise DeliveryError(EX_DATAERR, f"mail larger than the limit of {limit} bytes")
    return raw


async def find_push_account(store: Store, ref: str) -> EmailAccount:
    """The active push account named `ref` (or with id `ref`)."""
    accounts = await store.list_accounts()
    account = next((a for a in accounts if a.name == ref), None) or next(
        (a for a in accounts if a.id == ref), None
    )
    if account is None:
        raise DeliveryError(EX_NOUSER, f"no email account named {ref!r}")
    if account.provider != "push":
        raise DeliveryError(
            EX_NOUSER,
            f"account {account.name!r} is a {account.provider} account, not a push account:"
            " the fetcher reads its mail, an MTA must not deliver to it",
        )
    if not account.active:
        raise DeliveryError(EX_NOUSER, f"account {account.name!r} is not active")
    return account


async def deliver(raw: bytes, account_ref: str, settings: FetcherSettings) -> str:
    """Publish `raw` for the push account `account_ref`; returns its mail key once confirmed."""
    try:
        store = await open_store(settings.store_url, settings.store_options())
    except Exception as exc:
        raise DeliveryError(EX_TEMPFAIL, f"store unreachable: {exc!r}") from exc
    try:
        try:
            account = await find_push_account(store, account_ref)
        except DeliveryError:
            raise
        except Exception as exc:
            raise DeliveryError(EX_TEMPFAIL, f"store unreachable: {exc!r}") from exc
        limit = mail_size_limit(account.max_mail_bytes, settings.max_mail_bytes)
        if len(raw) > limit:
            raise DeliveryError(
                EX_DATAERR,
                f"mail of {len(raw)} bytes is over account {account.name!r}'s limit"
                f" of {limit} bytes (max_mail_bytes, POSTROOM_MAX_MAIL_BYTES)",
            )
        origin = Origin.push(account.id, raw)
        broker = make_broker(settings)
        try:
            await broker.connect()
            # declared by every service; here too, so a mail pushed before the converter
            # ever ran is queued for it instead of being dropped as unroutable
            await declare_topology(broker)
            outlet = Outlet(store, broker, SOURCE, inline_max_bytes=settings.inline_max_bytes)
            await publish_mail(outlet, origin, raw)
        except Exception as exc:
            raise DeliveryError(EX_TEMPFAIL, f"broker unreachable, no confirm: {exc!r}") from exc
        finally:
            await broker.stop()
        return origin.mail_key
    finally:
        await store.close()


def main(args: argparse.Namespace, stdin: BinaryIO | None = None) -> int:
    """Run one delivery; prints why on stderr and returns the sysexits status."""
    # Our one line on stderr is what the MTA shows in its log and bounce; library warnings
    # (aiormq's connection errors, say) would crowd it out.
    if not logging.getLogger().handlers:
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        # the environment wins over the file; an MTA's pipe passes hardly any environment
        settings = FetcherSettings(_env_file=args.env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        # a configuration being fixed: keep the mail queued rather than bounce it
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _fail(EX_TEMPFAIL, f"Postroom settings (POSTROOM_*) are invalid: {problems}")
    try:
        raw = read_mail(stdin or sys.stdin.buffer, settings.max_mail_bytes)
        asyncio.run(asyncio.wait_for(deliver(raw, args.account, settings), args.timeout))
    except DeliveryError as exc:
        return _fail(exc.status, str(exc))
    except TimeoutError:
        return _fail(EX_TEMPFAIL, f"no confirmed delivery within {args.timeout} s")
    except Exception as exc:
        return _fail(EX_TEMPFAIL, f"unexpected error, the MTA will retry: {exc!r}")
    return EX_OK


def _fail(status: int, message: str) -> int:
    print(f"postroom deliver: {message}", file=sys.stderr)
    return status
