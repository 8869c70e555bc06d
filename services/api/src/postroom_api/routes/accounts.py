"""Email accounts (docs/features.md F2-F5): CRUD, copy, activate/deactivate and connection state.

Routes that talk to the mailbox itself (folders, waiting count, refresh) and the OAuth sign-in
are in `mailbox.py` and `oauth.py`.
"""

import secrets as token_source
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from pydantic import ValidationError

from postroom_api.account_config import build_account
from postroom_api.account_edits import copy_name, copy_of, input_of, merge
from postroom_api.account_rules import Invalid, activation_problem, template_settings
from postroom_api.auth import RequireAdmin, RequireRead
from postroom_api.deps import SecretsDep, SettingsDep, StoreDep, TokensDep
from postroom_api.routing import (
    CONFLICT,
    NOT_FOUND,
    UNPROCESSABLE,
    PathId,
    SafeRoute,
    conflict,
    from_validation_error,
    not_found,
    now,
    unprocessable,
)
from postroom_api.schemas import AccountIn, AccountPatch, AccountStateView, AccountView, CopyIn
from postroom_api.schemas.account_views import LoopBreakerView
from postroom_api.schemas.common import Problem
from postroom_api.store import ApiStore
from postroom_replier.ops import account_breakers
from postroom_shared.models import EmailAccount
from postroom_shared.oauth import TokenSource
from postroom_shared.secretbox import SecretBox

__all__ = ["load_account", "router", "set_active"]

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=SafeRoute)


def new_account_id() -> str:
    return "acc_" + token_source.token_hex(8)


async def load_account(store: ApiStore, account_id: str) -> EmailAccount:
    account = await store.get_account(account_id)
    if account is None:
        raise not_found(f"no account {account_id}")
    return account


async def _reference_problems(store: ApiStore, account: EmailAccount) -> list[Problem]:
    """Settings that name other configuration which does not exist."""
    found: list[Problem] = []
    for loc, template_id in template_settings(account):
        if await store.get_template(template_id) is None:
            found.append((loc, f"no notification template {template_id}"))
    if account.workflow_id and await store.get_workflow(account.workflow_id) is None:
        found.append((("workflow_id",), f"no workflow {account.workflow_id}"))
    if account.creator:
        person = await store.get_person(account.creator)
        if person is None or person.kind != "user":
            found.append((("creator",), f"no user {account.creator} (GET /v1/people?kind=user)"))
    return found


async def _save(
    store: ApiStore,
    secrets: SecretBox,
    tokens: TokenSource,
    body: AccountIn,
    *,
    account_id: str,
    old: EmailAccount | None,
) -> EmailAccount:
    try:
        account = build_account(body, account_id=account_id, old=old, secrets=secrets, now=now())
    except Invalid as exc:
        raise unprocessable(exc.problems) from None
    found = await _reference_problems(store, account)
    if found:
        raise unprocessable(found)
    try:
        await store.put_account(account)
    except ValueError as exc:  # the name is taken
        raise conflict(str(exc)) from None
    tokens.forget(account.id)  # the next connection test uses the new OAuth settings
    return account


@router.get(
    "", summary="List email accounts (secrets are never returned)", dependencies=[RequireRead]
)
async def list_accounts(store: StoreDep) -> list[AccountView]:
    return [AccountView.of(account) for account in await store.list_accounts()]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an email account (inactive unless `active` is true)",
    responses={**CONFLICT, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def create_account(
    store: StoreDep, secrets: SecretsDep, tokens: TokensDep, response: Response, body: AccountIn
) -> AccountView:
    account = await _save(store, secrets, tokens, body, account_id=new_account_id(), old=None)
    response.headers["Location"] = f"/v1/accounts/{account.id}"
    return AccountView.of(account)


@router.get(
    "/{account_id}", summary="One email account", responses=NOT_FOUND, dependencies=[RequireRead]
)
async def get_account(store: StoreDep, account_id: PathId) -> AccountView:
    return AccountView.of(await load_account(store, account_id))


@router.put(
    "/{account_id}",
    summary="Replace every setting (omitted secrets are kept)",
    responses={**NOT_FOUND, **CONFLICT, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def replace_account(
    store: StoreDep, secrets: SecretsDep, tokens: TokensDep, account_id: PathId, body: AccountIn
) -> AccountView:
    old = await load_account(store, account_id)
    saved = await _save(store, secrets, tokens, body, account_id=account_id, old=old)
    return AccountView.of(saved)


@router.patch(
    "/{account_id}",
    summary="Change some settings (merged into the stored ones, then validated as a whole)",
    description="Objects are merged key by key, except `items.field_mapping` and"
    " `items.defaults`, which are replaced whole (so an entry can be removed).",
    responses={**NOT_FOUND, **CONFLICT, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def patch_account(
    store: StoreDep, secrets: SecretsDep, tokens: TokensDep, account_id: PathId, body: AccountPatch
) -> AccountView:
    old = await load_account(store, account_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    try:
        merged = AccountIn.model_validate(merge(input_of(old), changes))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    saved = await _save(store, secrets, tokens, merged, account_id=account_id, old=old)
    return AccountView.of(saved)


@router.delete(
    "/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an email account (its items stay)",
    responses=NOT_FOUND,
    dependencies=[RequireAdmin],
)
async def delete_account(store: StoreDep, tokens: TokensDep, account_id: PathId) -> None:
    if not await store.delete_account(account_id):
        raise not_found(f"no account {account_id}")
    tokens.forget(account_id)


@router.post(
    "/{account_id}/copy",
    status_code=status.HTTP_201_CREATED,
    summary="Copy an account: a new inactive account with the same settings and no secrets",
    responses={**NOT_FOUND, **CONFLICT, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def copy_account(
    store: StoreDep,
    response: Response,
    account_id: PathId,
    body: Annotated[CopyIn | None, Body()] = None,
) -> AccountView:
    original = await load_account(store, account_id)
    name = body.name if body is not None and body.name else None
    if name is None:
        try:
            name = copy_name(original.name, (a.name for a in await store.list_accounts()))
        except Invalid as exc:
            raise unprocessable(exc.problems) from None
    copy = copy_of(original, account_id=new_account_id(), name=name, now=now())
    try:
        await store.put_account(copy)
    except ValueError as exc:
        raise conflict(str(exc)) from None
    response.headers["Location"] = f"/v1/accounts/{copy.id}"
    return AccountView.of(copy)


async def set_active(store: ApiStore, account_id: str, active: bool) -> AccountView:
    """Activate or deactivate; 409 naming why when the account cannot be read yet."""
    account = await load_account(store, account_id)
    if active:
        why = activation_problem(account)
        if why:
            raise conflict(f"cannot activate: {why}")
    if account.active != active:
        account.active, account.updated_at = active, now()
        await store.put_account(account)
    return AccountView.of(account)


@router.post(
    "/{account_id}/activate",
    summary="Start fetching (all mail already in the folder will be imported)",
    description="Check `GET /v1/accounts/{id}/waiting` first. 409 when the account cannot be"
    " read yet (no password stored, not signed in).",
    responses={**NOT_FOUND, **CONFLICT},
    dependencies=[RequireAdmin],
)
async def activate_account(store: StoreDep, account_id: PathId) -> AccountView:
    return await set_active(store, account_id, True)


@router.post(
    "/{account_id}/deactivate",
    summary="Stop fetching (settings are kept)",
    responses=NOT_FOUND,
    dependencies=[RequireAdmin],
)
async def deactivate_account(store: StoreDep, account_id: PathId) -> AccountView:
    return await set_active(store, account_id, False)


@router.get(
    "/{account_id}/state",
    summary="Connection state: last error, since when, next attempt, re-authorisation needed;"
    " the addresses its auto-replies are silent to (loop breakers)",
    responses=NOT_FOUND,
    dependencies=[RequireRead],
)
async def account_state(
    store: StoreDep, settings: SettingsDep, account_id: PathId
) -> AccountStateView:
    await load_account(store, account_id)
    view = AccountStateView.of(account_id, await store.get_account_state(account_id))
    rule = settings.breaker_rule()
    view.loop_breakers = [
        LoopBreakerView(**vars(b)) for b in await account_breakers(store, account_id, rule)
    ]
    return view
