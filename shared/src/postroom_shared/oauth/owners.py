"""Who an OAuth grant belongs to: an email account (by id) or the SMTP server ("smtp")."""

from postroom_shared.models import OAuthSettings
from postroom_shared.store.ports import ConfigReader

__all__ = ["SMTP_OWNER", "describe", "stored_oauth"]

SMTP_OWNER = "smtp"


def describe(owner: str) -> str:
    return "the SMTP server" if owner == SMTP_OWNER else f"account {owner!r}"


async def stored_oauth(store: ConfigReader, owner: str) -> OAuthSettings | None:
    """The owner's OAuth settings as stored now (None: owner gone or not OAuth)."""
    if owner == SMTP_OWNER:
        smtp = await store.get_smtp_settings()
        return smtp.oauth if smtp else None
    account = await store.get_account(owner)
    return account.oauth if account else None
