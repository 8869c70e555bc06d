"""The buttons of one account's page and of the accounts list that are not its form: "Test
connection" and "Refresh folders" (htmx fragments, the mail server's own words on a failure),
Activate, "Sign in with Microsoft / Google", Copy, and Delete behind a confirmation page.

Each calls the JSON route's function (`routes.mailbox.refresh_account` / `folder_names`,
`routes.accounts.set_active` / `copy_account` / `delete_account`, `routes.oauth.account_sign_in`),
so the rules are the API's. The sign-in is started with `console=True`: its callback brings the
browser back to the account's page (docs/oauth.md, "From the web console").
"""

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from postroom_api.console.access import AdminDep
from postroom_api.console.account_form_fields import PROVIDER_NAMES, folder_field
from postroom_api.console.account_pages import ScreenDep, refresh_words
from postroom_api.console.forms import FormProblems
from postroom_api.console.pages import render
from postroom_api.deps import OAuthEndpointsDep, SecretsDep, StoreDep, TokensDep
from postroom_api.routes.accounts import copy_account, delete_account, load_account, set_active
from postroom_api.routes.mailbox import Probing, folder_names, refresh_account
from postroom_api.routes.oauth import account_sign_in
from postroom_api.routing import PathId
from postroom_api.schemas import AccountView, MailboxErrorView

__all__ = ["router"]

router = APIRouter(prefix="/ui/accounts", include_in_schema=False)


def _back(account_id: str, problem: str = "") -> RedirectResponse:
    suffix = "?saved=" + problem if problem else ""
    return RedirectResponse(f"/ui/accounts/{account_id}{suffix}", status_code=303)


@router.post("/{account_id}/test")
async def test_connection(
    v: AdminDep, s: ScreenDep, probing: Probing, account_id: PathId
) -> HTMLResponse:
    return await s.answer(refresh_account(s.store, probing, account_id), refresh_words)


@router.get("/{account_id}/folders")
async def folders(
    v: AdminDep,
    request: Request,
    store: StoreDep,
    probing: Probing,
    account_id: PathId,
) -> HTMLResponse:
    """The folder <select>, filled with what the server lists now (the chosen one kept)."""
    account = await load_account(store, account_id)
    chosen = account.mailbox.folder if account.mailbox else "INBOX"
    try:
        found = await folder_names(store, probing, account_id)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        found = MailboxErrorView(detail=str(exc.detail), error_kind="config", permanent=True)
    if isinstance(found, MailboxErrorView):
        said = f"the mailbox refused ({found.error_kind}): {found.detail}"
        problems, names, listed = FormProblems({"mailbox.folder": said}, []), [chosen], ""
    else:
        names = list(dict.fromkeys([*found.folders, chosen]))
        plural = "" if len(found.folders) == 1 else "s"
        problems, listed = None, f"{len(found.folders)} folder{plural} listed by the server"
    return render(request, "account_folders.html", **folder_field(names, chosen, problems, listed))


@router.post("/{account_id}/activate")
async def activate(
    v: AdminDep, s: ScreenDep, account_id: PathId, active: Annotated[bool, Form()]
) -> Response:
    try:
        await set_active(s.store, account_id, active)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return _back(account_id, "refused")
    return _back(account_id, "activated" if active else "deactivated")


@router.post("/{account_id}/sign-in")
async def sign_in(
    v: AdminDep,
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    endpoints: OAuthEndpointsDep,
    account_id: PathId,
) -> Response:
    """To the identity provider through the sign-in link; back on the account's page after."""
    account = AccountView.of(await load_account(store, account_id))
    try:
        start = await account_sign_in(request, store, secrets, endpoints, account_id, console=True)
    except HTTPException as exc:
        if exc.status_code not in (409, 424):
            raise
        return render(request, "account_refused.html", exc.status_code, account=account,
                      words=str(exc.detail))  # fmt: skip
    name = PROVIDER_NAMES[account.provider]
    return render(request, "account_sign_in.html", provider_name=name, who=account.name,
                  url=start.authorization_url, back="the account")  # fmt: skip


@router.post("/{account_id}/copy")
async def copy(v: AdminDep, store: StoreDep, account_id: PathId) -> Response:
    made = await copy_account(store, Response(), account_id, None)
    return RedirectResponse(f"/ui/accounts/{made.id}?saved=copied", status_code=303)


@router.get("/{account_id}/delete")
async def confirm_delete(
    v: AdminDep, request: Request, store: StoreDep, account_id: PathId
) -> HTMLResponse:
    account = AccountView.of(await load_account(store, account_id))
    return render(request, "account_delete.html", account=account)


@router.post("/{account_id}/delete")
async def delete(
    v: AdminDep, store: StoreDep, tokens: TokensDep, account_id: PathId
) -> RedirectResponse:
    await delete_account(store, tokens, account_id)
    return RedirectResponse("/ui/accounts?deleted=1", status_code=303)
