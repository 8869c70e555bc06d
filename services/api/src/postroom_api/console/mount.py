"""Mounting the web console: `install` adds to the API app the pages, the static files, the
security headers, and the error pages (for /ui only: the JSON API's errors stay JSON).

The pages load with the first request under /ui, not when the API starts: their modules, their
form models and Jinja are about 6 MB resident that an API nobody opens the console of never
needs (issue 15: at most 60 MB per idle service); the first console page takes their import
(docs/performance.md). What must exist before the app serves its first request is installed at
once: the error handlers (Starlette builds its middleware stack, handlers included, with the
first request) and the middleware that loads the pages; no console route is in the OpenAPI
document, so /openapi.json is the same either way.
"""

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

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
    from postroom_api.console.pages import render  # loaded already: the request is under /ui

    return render(request, "error.html", exc.status_code, detail=exc.detail)


def _add_pages(app: FastAPI) -> None:
    """Include the console's routers and static files in `app`."""
    from fastapi.staticfiles import StaticFiles

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


class _Console:
    """Middleware: requests under /ui go through the security headers, and the first one
    adds the pages to the app first (the router reads its route list per request, so routes
    added now serve this very request). Adding them is synchronous: no other request can see
    half of them."""

    def __init__(self, app: ASGIApp, add_pages: Callable[[], None]) -> None:
        self.app = app
        self._add_pages: Callable[[], None] | None = add_pages
        self._pages: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/ui"):
            await self.app(scope, receive, send)
            return
        if self._pages is None:
            from postroom_api.console.pages import SecurityHeaders

            if self._add_pages is not None:
                self._add_pages()
                self._add_pages = None
            self._pages = SecurityHeaders(self.app)
        await self._pages(scope, receive, send)


def install(app: FastAPI) -> None:
    """The console under /ui, its pages added with the first request there."""
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(_Console, add_pages=lambda: _add_pages(app))
