"""`postroom rotate-secrets`: re-encrypt every stored secret under the current
POSTROOM_SECRET_KEY after a key change (docs/security.md, "Rotating the secret key").

Only this command rotates, so the rotation lives here rather than in a library; it prints per
kind how many secrets it re-encrypted and exits 1 when one could not be decrypted.
"""

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from postroom_cli.command import Command, common_settings, opened_store
from postroom_shared.errors import ConfigError
from postroom_shared.models import OAuthSettings
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["COMMANDS", "RotationReport", "add_parsers", "rotate_secrets"]


def add_parsers(sub: Any) -> None:
    """Register `rotate-secrets` on the `postroom` sub-command parser."""
    sub.add_parser(
        "rotate-secrets",
        help="re-encrypt every stored secret with POSTROOM_SECRET_KEY (after a key change)",
    )


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
    settings = common_settings()
    async with opened_store(settings) as store:
        report = await rotate_secrets(store, SecretBox.from_settings(settings))
    for line in report.lines():
        print(line, file=sys.stderr if line.startswith("FAILED") else sys.stdout)
    return 1 if report.failed else 0


COMMANDS: dict[str, Command] = {"rotate-secrets": _rotate_secrets}
