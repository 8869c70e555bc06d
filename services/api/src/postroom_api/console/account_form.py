"""Adding an email account and its Connection tab: the provider picker, then one form for the
chosen provider (server, login and write-only password, or the OAuth client; folder, what
happens to a read mail, polling), saved through the JSON routes' own functions
(`routes.accounts.create_account`, `patch_account`), so the console obeys the same rules and a
422's problems land next to their fields (`console.forms`).

A new account is created inactive with the project the form shows (default "Support") and the
other settings at the API's defaults; the Creating items, Actions and Auto-reply tabs change
them. The slow actions and the account's other buttons are in `account_form_actions`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from postroom_api.account_rules import activation_problem
from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.account_form_fields import (
    PICKER,
    PROVIDER_NAMES,
    after_read_options,
    connection_body,
    flat,
    form_fields,
    security_options,
)
from postroom_api.console.forms import FormProblems, field_errors, nested
from postroom_api.console.pages import render
from postroom_api.deps import SecretsDep, StoreDep, TokensDep
from postroom_api.oauth.console_return import open_notice
from postroom_api.routes.accounts import create_account, load_account, patch_account
from postroom_api.routing import PathId
from postroom_api.schemas import AccountIn, AccountPatch, AccountView

__all__ = ["DEFAULT_PROJECT", "router"]

router = APIRouter(prefix="/ui/accounts", include_in_schema=False)

DEFAULT_PROJECT = "Support"
_PROVIDERS = ("microsoft", "google", "imap", "pop3", "push")


def _form(
    request: Request,
    provider: str,
    values: dict[str, Any],
    *,
    account: AccountView | None = None,
    problems: FormProblems | None = None,
    status_code: int = 200,
    **more: Any,
) -> HTMLResponse:
    """The add form (no `account`) or the Connection tab of `account`."""
    return render(
        request,
        "account_connection.html",
        status_code,
        account=account,
        tab="connection",
        provider=provider,
        provider_name=PROVIDER_NAMES[provider],
        v=values,
        problems=problems,
        after_read=after_read_options(provider),
        security=security_options(),
        **more,
    )


def _refused(exc: Exception, provider: str, new: bool) -> FormProblems:
    """A refusal of the save as the form's problems: a 422 by field, anything else on top."""
    if isinstance(exc, RequestValidationError | ValidationError):
        return field_errors(exc, form_fields(provider, new=new))
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return FormProblems({}, [str(detail)])


@router.get("/new")
async def new_account(
    visitor: AdminDep,
    request: Request,
    provider: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    if provider not in _PROVIDERS:
        return render(request, "account_new.html", picker=PICKER)
    values: dict[str, Any] = {"provider": provider, "project": DEFAULT_PROJECT}
    values |= {"mailbox.folder": "INBOX"}
    values |= {"after_read": "delete", "poll_interval_s": 60, "use_idle": True}
    values |= {"mailbox.security": "tls", "mailbox.verify_tls": True}
    return _form(request, provider, values)


@router.post("/new")
async def create(
    visitor: AdminDep,
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    tokens: TokensDep,
) -> Response:
    body = connection_body(nested(await request.form()))
    provider = str(body.get("provider", ""))
    if provider not in _PROVIDERS:
        return render(request, "account_new.html", 422, picker=PICKER)
    body["active"] = False  # activation comes after "messages waiting", on the account's page
    try:
        created = await create_account(
            store, secrets, tokens, Response(), AccountIn.model_validate(body)
        )
    except (RequestValidationError, ValidationError, HTTPException) as exc:
        if isinstance(exc, HTTPException) and exc.status_code not in (409, 422):
            raise
        problems = _refused(exc, provider, new=True)
        return _form(request, provider, flat(body), problems=problems, status_code=422)
    return RedirectResponse(f"/ui/accounts/{created.id}?saved=created", status_code=303)


@router.get("/{account_id}")
async def connection(
    visitor: ConfigReaderDep,
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    account_id: PathId,
    signin: Annotated[str | None, Query(max_length=8000)] = None,
    saved: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    stored = await load_account(store, account_id)
    account = AccountView.of(stored)
    notice = open_notice(signin, account_id, secrets) if signin else None
    return _form(
        request,
        account.provider,
        flat(account.model_dump(mode="json")),
        account=account,
        notice=notice,
        saved=saved,
        cannot_activate=None if stored.active else activation_problem(stored),
    )


@router.post("/{account_id}")
async def save(
    visitor: AdminDep,
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    tokens: TokensDep,
    account_id: PathId,
) -> Response:
    stored = await load_account(store, account_id)
    body = connection_body(nested(await request.form()))
    body.pop("active", None)  # the Activate button's business, with its own rule
    provider = str(body.get("provider") or stored.provider)
    try:
        patch = AccountPatch.model_validate(body)
        await patch_account(store, secrets, tokens, account_id, patch)
    except (RequestValidationError, ValidationError, HTTPException) as exc:
        if isinstance(exc, HTTPException) and exc.status_code not in (409, 422):
            raise
        problems = _refused(exc, provider, new=False)
        view = AccountView.of(stored)
        values = flat(view.model_dump(mode="json")) | flat(body)
        return _form(request, provider, values, account=view, problems=problems, status_code=422)
    return RedirectResponse(f"/ui/accounts/{account_id}?saved=saved", status_code=303)
