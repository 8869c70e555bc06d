"""Mounting the web console: `install` adds to the API app the pages, the static files, the
security headers, and the error pages (for /ui only: the JSON API's errors stay JSON).
"""

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from postroom_api.console import (
    account_form,
    account_form_actions,
    account_pages,
    account_rules_pages,
    auto_reply_pages,
    dashboard_pages,
    deadletter_pages,
    item_pages,
    key_pages,
    log_pages,
    people_pages,
    quarantine_pages,
    routes,
    smtp_pages,
    template_pages,
    workflow_pages,
)
from postroom_api.console.pages import SecurityHeaders, render
from postroom_api.console.session import SignInNeeded

__all__ = ["install"]


async def _sign_in(request: Request, exc: Exception) -> Response:
    why = exc.why if isinstance(exc, SignInNeeded) else ""
    target = "/ui/login" + (f"?why={quote(why)}" if why else "")
    if request.headers.get("HX-Request"):  # htmx follows this instead of swapping a page in
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith("/ui"):
        return await http_exception_handler(request, exc)
    return render(request, "error.html", exc.status_code, detail=exc.detail)


def install(app: FastAPI) -> None:
    # one router per screen; a new screen adds its module here (one line each, in nav order)
    for screen in (
        routes,
        dashboard_pages,
        item_pages,
        account_pages,
        account_form,
        account_form_actions,
        account_rules_pages,
        auto_reply_pages,
        log_pages,
        quarantine_pages,
        deadletter_pages,
        smtp_pages,
        template_pages,
        workflow_pages,
        people_pages,
        key_pages,
    ):
        app.include_router(screen.router)
    static = Path(__file__).parent / "static"
    app.mount("/ui/static", StaticFiles(directory=static), name="console-static")
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(SecurityHeaders)
