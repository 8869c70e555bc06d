"""The Email accounts screen: each account with its fetch status (a badge from the fetcher's
account state, a banner when one must be signed in again), the active toggle, and the two slow
mailbox calls, "Refresh" and "messages waiting", which htmx runs while the page shows progress.

Everything goes through the JSON routes' own functions (`routes.accounts.set_active` and
`account_state`, `routes.mailbox.refresh_account` and `waiting_count`), so the console obeys the
same rules: an account that cannot be read yet is not activated, and says why.
Admin keys see the forms; read keys the list alone; agent keys get 403 (`require_read`).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.account_rules import activation_problem
from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.pages import render
from postroom_api.deps import SettingsDep, StoreDep
from postroom_api.routes.accounts import account_state, set_active
from postroom_api.routes.mailbox import Probing, refresh_account, waiting_count
from postroom_api.routing import PathId
from postroom_api.schemas import AccountView, MailboxErrorView, RefreshView, WaitingView
from postroom_api.schemas.account_views import AccountStateView
from postroom_api.settings import ApiSettings
from postroom_api.store import ApiStore

__all__ = ["Badge", "badge", "refresh_words", "router", "waiting_words"]

router = APIRouter(prefix="/ui/accounts", include_in_schema=False)


@dataclass(frozen=True)
class Badge:
    label: str
    tone: Literal["ok", "warn", "bad", ""]
    detail: str = ""


def badge(state: AccountStateView) -> Badge:
    """What the status badge says for the fetcher's last word on an account."""
    if state.status == "needs_reauth":
        return Badge("needs re-authorisation", "warn", state.last_error or "")
    if state.status == "error":
        return Badge("error", "bad", state.last_error or "")
    if state.status == "ok":
        return Badge("ok", "ok")
    return Badge("not checked yet", "")


def refresh_words(result: RefreshView) -> tuple[bool, str]:
    """(worked, the sentence) for a refresh; a failure in the mailbox server's own words."""
    if not result.ok:
        return False, f"the mailbox refused ({result.error_kind}): {result.error}"
    if result.fetch_requested:
        return True, "connection ok; fetching now"
    return True, "connection ok (the account is inactive, so nothing is fetched)"


def waiting_words(result: WaitingView | MailboxErrorView) -> tuple[bool, str]:
    if isinstance(result, MailboxErrorView):
        return False, f"the mailbox refused ({result.error_kind}): {result.detail}"
    plural = "" if result.waiting == 1 else "s"
    return True, f"{result.waiting} message{plural} waiting"


@dataclass(frozen=True)
class Row:
    account: AccountView
    state: AccountStateView
    badge: Badge
    cannot_activate: str | None


async def _rows(store: ApiStore, settings: ApiSettings) -> list[Row]:
    rows = []
    for account in await store.list_accounts():
        state = await account_state(store, settings, account.id)
        blocked = None if account.active else activation_problem(account)
        rows.append(Row(AccountView.of(account), state, badge(state), blocked))
    return rows


@dataclass(frozen=True)
class Screen:
    """What the accounts screen's routes need: the request, the store, the settings."""

    request: Request
    store: ApiStore
    settings: ApiSettings

    async def page(self, status_code: int = 200, error: str = "") -> HTMLResponse:
        rows = await _rows(self.store, self.settings)
        deleted = self.request.query_params.get("deleted") == "1"
        return render(
            self.request, "accounts.html", status_code, rows=rows, error=error, deleted=deleted
        )

    async def answer[T](
        self, call: Awaitable[T], words: Callable[[T], tuple[bool, str]]
    ) -> HTMLResponse:
        """The fragment htmx puts where the progress indicator was: 200 even for a refusal,
        so htmx swaps it in (the refusal, in the server's own words, is the answer)."""
        try:
            worked, said = words(await call)
        except HTTPException as exc:
            if exc.status_code not in (404, 409):
                raise
            worked, said = False, str(exc.detail)
        return render(self.request, "account_answer.html", worked=worked, words=said)


async def _screen(request: Request, store: StoreDep, settings: SettingsDep) -> Screen:
    return Screen(request, store, settings)


ScreenDep = Annotated[Screen, Depends(_screen)]


@router.get("")
async def accounts(visitor: ConfigReaderDep, screen: ScreenDep) -> HTMLResponse:
    return await screen.page()


@router.post("/{account_id}/active")
async def toggle(
    visitor: AdminDep, screen: ScreenDep, account_id: PathId, active: Annotated[bool, Form()]
) -> Response:
    try:
        await set_active(screen.store, account_id, active)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return await screen.page(409, str(exc.detail))
    return RedirectResponse(f"/ui/accounts#account-{account_id}", status_code=303)


@router.post("/{account_id}/refresh")
async def refresh(v: AdminDep, s: ScreenDep, probing: Probing, account_id: PathId) -> HTMLResponse:
    return await s.answer(refresh_account(s.store, probing, account_id), refresh_words)


@router.get("/{account_id}/waiting")
async def waiting(v: AdminDep, s: ScreenDep, probing: Probing, account_id: PathId) -> HTMLResponse:
    return await s.answer(waiting_count(s.store, probing, account_id), waiting_words)
