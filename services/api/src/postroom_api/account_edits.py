"""Account edits that are not a plain replace: a PATCH merged into the stored settings, and
copies (inactive, and without any of the original's secrets)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from postroom_api.account_rules import Invalid
from postroom_api.schemas.accounts import (
    AccountIn,
    AutoReplyIn,
    ItemsFromMailIn,
    MailboxIn,
    NotificationsIn,
    ReplyActionsIn,
)
from postroom_api.schemas.oauth import OAuthIn
from postroom_shared.models import EmailAccount

__all__ = ["WHOLE_MAPS", "copy_name", "copy_of", "input_of", "merge"]


def input_of(account: EmailAccount) -> dict[str, Any]:
    """The stored account as an `AccountIn` body without secrets (the base a PATCH merges into;
    omitted secrets are then kept by `build_account`)."""
    data = account.model_dump(mode="json")
    shapes: dict[str, type[BaseModel]] = {
        "mailbox": MailboxIn,
        "oauth": OAuthIn,
        "auto_reply": AutoReplyIn,
        "on_reply": ReplyActionsIn,
        "items": ItemsFromMailIn,
        "notifications": NotificationsIn,
    }
    # Only what the input model knows: a field added to the stored model later must not turn
    # every PATCH into a 422 "extra field".
    body = {key: data[key] for key in AccountIn.model_fields if key in data}
    for key, shape in shapes.items():
        if isinstance(body.get(key), dict):
            body[key] = {k: v for k, v in body[key].items() if k in shape.model_fields}
    for secret in ("password", "client_secret", "refresh_token"):
        for part in ("mailbox", "oauth"):
            if isinstance(body.get(part), dict):
                body[part].pop(secret, None)
    return body


#: Settings that are maps of the admin's own keys: a PATCH replaces them whole, so that an
#: entry can be removed (a key merge could only add or change entries).
WHOLE_MAPS = frozenset({("items", "field_mapping"), ("items", "defaults")})


def merge(base: dict[str, Any], patch: dict[str, Any], at: tuple[str, ...] = ()) -> dict[str, Any]:
    """`patch` over `base`: objects merged key by key (except `WHOLE_MAPS`), anything else
    replaced."""
    merged = dict(base)
    for key, value in patch.items():
        where = (*at, key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = value if where in WHOLE_MAPS else merge(merged[key], value, where)
        else:
            merged[key] = value
    return merged


def copy_name(name: str, taken: Iterable[str]) -> str:
    """'<name> (copy)', or '<name> (copy 2)', ... when that is taken too."""
    names = set(taken)
    for n in range(1, 1000):
        suffix = " (copy)" if n == 1 else f" (copy {n})"
        candidate = name[: 200 - len(suffix)] + suffix
        if candidate not in names:
            return candidate
    raise Invalid([(("name",), "give the copy a name: every derived name is taken")])


def copy_of(account: EmailAccount, *, account_id: str, name: str, now: datetime) -> EmailAccount:
    """A new inactive account with the same settings and none of the secrets."""
    copy = account.model_copy(deep=True)
    copy.id, copy.name, copy.active = account_id, name, False
    copy.created_at = copy.updated_at = now
    if copy.mailbox is not None:
        copy.mailbox.password_enc = None
    if copy.oauth is not None:
        copy.oauth.client_secret_enc = None
        copy.oauth.refresh_token_enc = None
    return copy
