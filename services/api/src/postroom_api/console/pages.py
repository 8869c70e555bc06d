"""Rendering console pages, and the headers every console answer carries.

Content-Security-Policy allows only this origin's own files: no inline script or style, so an
injected `<script>` or `onerror=` does nothing even where escaping failed; frames only from
here, and no one may frame the console (clickjacking) except the mail frame route, which sets
its own, stricter policy (`MAIL_FRAME_HEADERS`).
"""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAIL_FRAME_HEADERS", "PAGE_HEADERS", "SecurityHeaders", "render", "templates"]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAIL_FRAME_HEADERS = {
    # `sandbox` without allow-scripts: nothing in the mail runs, even opened on its own
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline';"
    " img-src data:; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    visitor = getattr(request.state, "visitor", None)
    return templates.TemplateResponse(
        request, name, {"visitor": visitor, **context}, status_code=status_code
    )


class SecurityHeaders:
    """Add `PAGE_HEADERS` to every answer under /ui that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/ui"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
