"""Routes that talk to an account's mailbox (docs/features.md F2): the folder list refreshed
from the server, how many messages activation would import, and "refresh" (test the
connection, then make the fetcher poll now).

A mailbox that refuses or cannot be reached answers 424 Failed Dependency with the cause
(`postroom_fetcher.ops.MailboxError`: wrong password, with the app-password hint for
two-factor accounts; revoked consent; TLS; unknown folder; network), its kind and whether a
retry can help. Not a 5xx: the API itself worked, and what failed is the admin's mailbox or its
settings, which the admin has to fix.
"""

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from postroom_api.auth import RequireAdmin
from postroom_api.deps import SecretsDep, SettingsDep, StoreDep, TokensDep
from postroom_api.routes.accounts import load_account
from postroom_api.routing import CONFLICT, NOT_FOUND, PathId, SafeRoute, conflict
from postroom_api.schemas import FoldersView, MailboxErrorView, RefreshView, WaitingView
from postroom_api.store import ApiStore
from postroom_fetcher import ops
from postroom_fetcher.ops import MailboxError
from postroom_shared.errors import PostroomError
from postroom_shared.logs import get_logger
from postroom_shared.models import EmailAccount

__all__ = [
    "PROBE_TIMEOUT_S",
    "Probing",
    "folder_names",
    "refresh_account",
    "router",
    "waiting_count",
]

log = get_logger(__name__)
router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=SafeRoute)

PROBE_TIMEOUT_S = 15.0
_UPSTREAM: dict[int | str, dict[str, Any]] = {
    424: {"model": MailboxErrorView, "description": "The mailbox refused or did not answer."}
}


async def _fetched_account(store: ApiStore, account_id: str) -> EmailAccount:
    account = await load_account(store, account_id)
    if account.provider == "push":
        raise conflict(f"account {account.name!r} receives pushed mail; it has no mailbox")
    return account


async def _ask[T](call: Awaitable[T]) -> T | MailboxErrorView:
    """The probe's answer, or why the mailbox could not give it."""
    try:
        return await call
    except MailboxError as exc:
        error = MailboxErrorView(detail=str(exc), error_kind=exc.kind, permanent=exc.permanent)
    except PostroomError as exc:  # e.g. a stored secret that cannot be decrypted
        error = MailboxErrorView(detail=str(exc), error_kind="config", permanent=True)
    except Exception as exc:  # never a 500 for what a mail server does
        log.warning("mailbox probe failed", error=repr(exc))
        error = MailboxErrorView(detail=repr(exc), error_kind="protocol", permanent=False)
    return error


def _failed(error: MailboxErrorView) -> JSONResponse:
    return JSONResponse(status_code=424, content=error.model_dump())


async def _probing(secrets: SecretsDep, tokens: TokensDep, settings: SettingsDep) -> dict[str, Any]:
    """How the probe logs in: the stored secrets, OAuth tokens, a time bound, and the extra CA
    bundle for mailbox servers (POSTROOM_MAIL_CA_FILE, shared with the fetcher)."""
    return {
        "secrets": secrets,
        "tokens": tokens,
        "timeout_s": PROBE_TIMEOUT_S,
        "ca_file": settings.mail_ca_file,
    }


Probing = Annotated[dict[str, Any], Depends(_probing)]


@router.get(
    "/{account_id}/folders",
    summary="The account's folders, listed by the server now",
    responses={**NOT_FOUND, **CONFLICT, **_UPSTREAM},
    response_model=FoldersView,
    dependencies=[RequireAdmin],  # logs in with the stored secret
)
async def folders(
    store: StoreDep, probing: Probing, account_id: PathId
) -> FoldersView | JSONResponse:
    names = await folder_names(store, probing, account_id)
    return _failed(names) if isinstance(names, MailboxErrorView) else names


async def folder_names(
    store: ApiStore, probing: dict[str, Any], account_id: str
) -> FoldersView | MailboxErrorView:
    """The account's folders as the server lists them now, or why it did not."""
    account = await _fetched_account(store, account_id)
    names = await _ask(ops.list_folders(account, **probing))
    return names if isinstance(names, MailboxErrorView) else FoldersView(folders=names)


@router.get(
    "/{account_id}/waiting",
    summary="How many messages activating the account would import",
    description="All mail already in the folder is imported when the account is activated;"
    " ask this first.",
    responses={**NOT_FOUND, **CONFLICT, **_UPSTREAM},
    response_model=WaitingView,
    dependencies=[RequireAdmin],
)
async def waiting(
    store: StoreDep, probing: Probing, account_id: PathId
) -> WaitingView | JSONResponse:
    count = await waiting_count(store, probing, account_id)
    return _failed(count) if isinstance(count, MailboxErrorView) else count


async def waiting_count(
    store: ApiStore, probing: dict[str, Any], account_id: str
) -> WaitingView | MailboxErrorView:
    """How many messages activation would import, or why the mailbox did not say."""
    account = await _fetched_account(store, account_id)
    count = await _ask(ops.count_waiting(account, store=store, **probing))
    return count if isinstance(count, MailboxErrorView) else WaitingView(waiting=count)


@router.post(
    "/{account_id}/refresh",
    summary="Test the connection and, for an active account, fetch now",
    description="200 either way: `ok` false with `error` naming the cause when the mailbox"
    " refused.",
    responses={**NOT_FOUND, **CONFLICT},
    dependencies=[RequireAdmin],
)
async def refresh(store: StoreDep, probing: Probing, account_id: PathId) -> RefreshView:
    return await refresh_account(store, probing, account_id)


async def refresh_account(store: ApiStore, probing: dict[str, Any], account_id: str) -> RefreshView:
    """Test the connection; when it works and the account is active, make the fetcher poll."""
    account = await _fetched_account(store, account_id)
    error = await _ask(ops.test_connection(account, **probing))
    if isinstance(error, MailboxErrorView):
        return RefreshView(
            ok=False, error=error.detail, error_kind=error.error_kind, fetch_requested=False
        )
    if account.active:
        await ops.request_fetch_now(store, account.id)
    return RefreshView(ok=True, fetch_requested=account.active)
