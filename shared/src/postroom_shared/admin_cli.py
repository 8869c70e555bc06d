"""Admin commands of `postroom` that work on the store: API keys and secret-key rotation.

postroom api-key create --name N --scope read [--scope deliver] [--account ID]
postroom api-key list
postroom api-key revoke ID
postroom rotate-secrets

`create` prints the key alone on stdout (capture it: KEY=$(postroom api-key create ...)) and
what it made on stderr; the key is not stored and cannot be shown again.
"""

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args

from postroom_shared.apikeys import new_api_key
from postroom_shared.errors import ConfigError
from postroom_shared.models import ApiScope, OAuthSettings
from postroom_shared.secretbox import SecretBox
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store, open_store

__all__ = ["COMMANDS", "RotationReport", "add_parsers", "rotate_secrets"]


def add_parsers(sub: Any) -> None:
    """Register this module's commands on the `postroom` sub-command parser."""
    keys = sub.add_parser("api-key", help="create, list or revoke API keys")
    actions = keys.add_subparsers(dest="key_action", required=True)
    create = actions.add_parser("create", help="create a key; prints it once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=list(get_args(ApiScope)),
        help="admin, read (GET only) or deliver (push mail); repeat for several",
    )
    create.add_argument(
        "--account", action="append", default=[], help="deliver: limit to this account id"
    )
    actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("id")
    sub.add_parser(
        "rotate-secrets",
        help="re-encrypt every stored secret with POSTROOM_SECRET_KEY (after a key change)",
    )


async def _api_key(args: argparse.Namespace) -> int:
    settings = CommonSettings()  # type: ignore[call-arg]  # values come from the environment
    store = await open_store(settings.store_url, settings.store_options())
    try:
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
    finally:
        await store.close()


@dataclass
class RotationReport:
    """What `rotate_secrets` did, per kind of secret."""

    rotated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        kinds = sorted(set(self.rotated) | set(self.current))
        out = [
            f"{kind}: {self.rotated.get(kind, 0)} re-encrypted,"
            f" {self.current.get(kind, 0)} already current"
            for kind in kinds
        ] or ["no stored secrets"]
        out += [f"FAILED {what}" for what in self.failed]
        return out


class _Rotator:
    def __init__(self, box: SecretBox, report: RotationReport, owner: str) -> None:
        self.box, self.report, self.owner = box, report, owner
        self.changed = False

    def __call__(self, kind: str, token: str | None) -> str | None:
        if not token:
            return token
        try:
            if self.box.is_current(token):
                self.report.current[kind] = self.report.current.get(kind, 0) + 1
                return token
            rotated = self.box.rotate(token)
        except ConfigError as exc:
            self.report.failed.append(f"{self.owner} {kind}: {exc}")
            return token
        self.report.rotated[kind] = self.report.rotated.get(kind, 0) + 1
        self.changed = True
        return rotated

    def oauth(self, oauth: OAuthSettings | None) -> OAuthSettings | None:
        if oauth is None:
            return None
        return oauth.model_copy(
            update={
                "client_secret_enc": self("oauth client secrets", oauth.client_secret_enc),
                "refresh_token_enc": self("oauth refresh tokens", oauth.refresh_token_enc),
            }
        )


async def rotate_secrets(store: Store, box: SecretBox) -> RotationReport:
    """Re-encrypt every stored secret that is not yet under the current key. Idempotent: a
    second run finds everything current. Each record is re-read just before it is written, to
    keep the window for overwriting a concurrent change (a rotated refresh token) tiny."""
    report = RotationReport()
    for listed in await store.list_accounts():
        account = await store.get_account(listed.id)
        if account is None:
            continue
        rotate = _Rotator(box, report, f"account {account.id}")
        mailbox = account.mailbox
        if mailbox is not None:
            mailbox = mailbox.model_copy(
                update={"password_enc": rotate("mailbox passwords", mailbox.password_enc)}
            )
        oauth = rotate.oauth(account.oauth)
        if rotate.changed:
            await store.put_account(account.model_copy(update={"mailbox": mailbox, "oauth": oauth}))
    smtp = await store.get_smtp_settings()
    if smtp is not None:
        rotate = _Rotator(box, report, "smtp")
        password = rotate("smtp passwords", smtp.password_enc)
        oauth = rotate.oauth(smtp.oauth)
        if rotate.changed:
            await store.put_smtp_settings(
                smtp.model_copy(update={"password_enc": password, "oauth": oauth})
            )
    return report


async def _rotate_secrets(args: argparse.Namespace) -> int:
    settings = CommonSettings()  # type: ignore[call-arg]  # values come from the environment
    store = await open_store(settings.store_url, settings.store_options())
    try:
        report = await rotate_secrets(store, SecretBox.from_settings(settings))
    finally:
        await store.close()
    for line in report.lines():
        print(line, file=sys.stderr if line.startswith("FAILED") else sys.stdout)
    return 1 if report.failed else 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "api-key": _api_key,
    "rotate-secrets": _rotate_secrets,
}
