"""The console's doors: sign-in, sign-out, and the items list (filters, text search, paging),
which reads through the JSON route's own function (`routes.items.list_items`)."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.auth import Principal, principal_for
from postroom_api.console.access import ItemReaderDep, VisitorDep
from postroom_api.console.csrf import LOGIN_COOKIE, new_login_token, same_token
from postroom_api.console.pages import render
from postroom_api.console.session import COOKIE, cookie_secure, open_session
from postroom_api.deps import ComponentsDep, StoreDep
from postroom_api.routes.items import list_items
from postroom_api.schemas import ItemPage

__all__ = ["landing", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 25


def landing(principal: Principal) -> str:
    """Where a signed-in key starts: the dashboard for keys that see operations (admin,
    read), the items for agent keys, which see items only."""
    return "/ui/dashboard" if principal.admin or "read" in principal.scopes else "/ui/items"


def _login_page(request: Request, error: str = "", status_code: int = 200) -> HTMLResponse:
    token = new_login_token()
    page = render(request, "login.html", status_code, csrf=token, error=error)
    page.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path="/ui",
    )
    return page


@router.get("/login")
async def login_form(request: Request, why: str = "") -> HTMLResponse:
    return _login_page(request, why[:200])


@router.post("/login")
async def login(
    request: Request,
    components: ComponentsDep,
    api_key: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not same_token(request.cookies.get(LOGIN_COOKIE, ""), csrf_token):
        return _login_page(request, "the form expired; try again", 403)
    principal = await principal_for(components, api_key.strip()) if api_key.strip() else None
    if principal is None:
        return _login_page(request, "unknown or revoked API key", 401)
    if not principal.scopes & {"admin", "read", "agent"}:
        return _login_page(request, "this key may only deliver mail, not use the console", 403)
    cookie, _ = await open_session(components, api_key.strip())
    answer = RedirectResponse(landing(principal), status_code=303)
    answer.set_cookie(
        COOKIE,
        cookie,
        max_age=int(components.settings.console_max_s),
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path="/ui",
    )
    answer.delete_cookie(LOGIN_COOKIE, path="/ui")
    return answer


@router.post("/logout")
async def logout(visitor: VisitorDep, store: StoreDep) -> Response:
    await store.delete_session(visitor.session.id)
    answer = RedirectResponse("/ui/login?why=signed+out", status_code=303)
    answer.delete_cookie(COOKIE, path="/ui")
    return answer


@router.get("")
async def home(visitor: VisitorDep) -> Response:
    return RedirectResponse(landing(visitor.principal), status_code=303)


_Filter = Annotated[str | None, Query(max_length=200)]


@router.get("/items")
async def items(
    request: Request,
    visitor: ItemReaderDep,
    store: StoreDep,
    status: _Filter = None,
    account_id: _Filter = None,
    q: _Filter = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> HTMLResponse:
    filters = {"status": status or "", "account_id": account_id or "", "q": q or ""}

    async def listed(after: str | None) -> ItemPage:
        return await list_items(
            store,
            status=status or None,
            account_id=account_id or None,
            q=q or None,
            cursor=after,
            limit=PAGE_SIZE,
        )

    error = ""
    try:
        page = await listed(cursor or None)
    except RequestValidationError:
        page = await listed(None)
        error = "that page link is no longer valid; showing the first page"
    accounts = await store.list_accounts()
    return render(
        request,
        "items.html",
        page=page,
        filters=filters,
        accounts=accounts,
        error=error,
    )
