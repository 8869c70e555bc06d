"""The SMTP screen: which server automatic mail goes through (the built-in relay or a custom
one), the form to use a custom server, "Back to built-in" after a confirmation, "Send test mail"
(htmx, with progress; a failure in the SMTP server's own words), and for auth xoauth2 the
"Sign in" button, which sends the browser to the sign-in link.

Every action is the JSON route's own function (`routes.smtp`, `routes.oauth.smtp_sign_in`),
so the rules are the API's: secrets are write-only (never put back into the form) and kept only
while they would go to the same server and login (docs/security.md).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.form_calls import attempt, body_of, validated
from postroom_api.console.forms import FormProblems
from postroom_api.console.pages import render
from postroom_api.deps import (
    OAuthEndpointsDep,
    RelayDep,
    SecretsDep,
    SettingsDep,
    StoreDep,
    TokensDep,
)
from postroom_api.oauth.console_return import Notice, open_notice
from postroom_api.routes.oauth import smtp_sign_in
from postroom_api.routes.smtp import delete_smtp, get_smtp, put_smtp, send_test
from postroom_api.schemas import SmtpIn, SmtpView, TestMailIn, TestMailView
from postroom_shared.oauth import SMTP_OWNER

__all__ = ["form_values", "router", "sent_words", "smtp_body"]

router = APIRouter(prefix="/ui/smtp", include_in_schema=False)

FIELDS = (
    "host",
    "port",
    "security",
    "verify_tls",
    "auth",
    "username",
    "password",
    "oauth_provider",
    "oauth",
    "oauth.client_id",
    "oauth.client_secret",
    "oauth.tenant",
    "oauth.authority_url",
    "oauth.auth_url",
    "oauth.token_url",
    "oauth.scopes",
)
TEST_FIELDS = ("to", "from_address")
_DONE = {
    "saved": "Saved: automatic mail now goes through this server.",
    "builtin": "Back to the built-in relay: the custom server and its secrets are forgotten.",
}


def form_values(view: SmtpView) -> dict[str, Any]:
    """The form's fields for the stored settings: never a secret, only whether one is set."""
    if view.custom is None:
        return {"port": 587, "security": "starttls", "verify_tls": True, "auth": "password"}
    custom = view.custom
    values: dict[str, Any] = custom.model_dump(exclude={"oauth"})
    values["security"] = custom.security.value
    if custom.oauth is not None:
        oauth = custom.oauth.model_dump()
        oauth["scopes"] = " ".join(custom.oauth.scopes)
        values.update({f"oauth.{k}": v for k, v in oauth.items()})
    return values


def smtp_body(form: Any) -> dict[str, Any]:
    """The PUT /v1/smtp body of the form; the OAuth fields count only for auth xoauth2 (the
    form shows them all; the JSON API refuses them with another auth)."""
    body = body_of(form, words=("oauth.scopes",))
    if body.get("auth") != "xoauth2":
        body.pop("oauth", None)
        body.pop("oauth_provider", None)
    return body


def sent_words(result: TestMailView) -> tuple[bool, str]:
    if result.ok:
        return True, f"sent through {result.server}: {result.smtp_response}"
    said = result.error or result.smtp_response
    return False, f"not sent through {result.server}: {said}"


async def _page(
    request: Request,
    view: SmtpView,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    problems: FormProblems | None = None,
    done: str = "",
    notice: Notice | None = None,
) -> HTMLResponse:
    return render(
        request,
        "smtp.html",
        status_code,
        view=view,
        values=form_values(view) if values is None else values,
        problems=problems,
        done=_DONE.get(done, ""),
        notice=notice,
        test={},
    )


@router.get("")
async def smtp_page(
    request: Request,
    visitor: ConfigReaderDep,
    store: StoreDep,
    secrets: SecretsDep,
    done: Annotated[str, Query(max_length=20)] = "",
    signin: Annotated[str | None, Query(max_length=8000)] = None,
) -> HTMLResponse:
    # the outcome of a sign-in started below, sealed for the SMTP page (oauth/console_return)
    notice = open_notice(signin, SMTP_OWNER, secrets) if signin else None
    return await _page(request, await get_smtp(store), done=done, notice=notice)


@router.post("")
async def save(
    request: Request, visitor: AdminDep, store: StoreDep, secrets: SecretsDep, tokens: TokensDep
) -> Response:
    form = await request.form()
    body = smtp_body(form)

    async def put() -> SmtpView:
        return await put_smtp(store, secrets, tokens, validated(SmtpIn, body))

    result = await attempt(put(), FIELDS)
    if isinstance(result, FormProblems):
        values: dict[str, Any] = {
            k: v for k, v in form.items() if isinstance(v, str) and "secret" not in k
        }
        values.pop("password", None)  # secrets are write-only, even a mistyped one
        values["verify_tls"] = form.getlist("verify_tls")[-1:] == ["true"]
        return await _page(request, await get_smtp(store), 422, values, result)
    return RedirectResponse("/ui/smtp?done=saved", status_code=303)


@router.get("/builtin")
async def confirm_builtin(request: Request, visitor: AdminDep, store: StoreDep) -> HTMLResponse:
    return render(request, "smtp_builtin.html", view=await get_smtp(store))


@router.post("/builtin")
async def back_to_builtin(visitor: AdminDep, store: StoreDep, tokens: TokensDep) -> Response:
    await delete_smtp(store, tokens)
    return RedirectResponse("/ui/smtp?done=builtin", status_code=303)


class _Sender:
    def __init__(
        self,
        store: StoreDep,
        secrets: SecretsDep,
        relay: RelayDep,
        tokens: TokensDep,
        settings: SettingsDep,
    ) -> None:
        self.args = (store, secrets, relay, tokens, settings)


@router.post("/test")
async def test_mail(
    request: Request, visitor: AdminDep, sender: Annotated[_Sender, Depends()]
) -> HTMLResponse:
    """The test-mail form again (htmx swaps it in where it was), with the answer in the SMTP
    server's own words, or the problems next to their fields."""
    form = await request.form()
    body = body_of(form)

    async def send() -> TestMailView:
        return await send_test(*sender.args, validated(TestMailIn, body))

    result = await attempt(send(), TEST_FIELDS)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if isinstance(result, FormProblems):
        return render(request, "smtp_test.html", test=values, problems=result)
    worked, words = sent_words(result)
    return render(request, "smtp_test.html", test=values, worked=worked, words=words)


@router.post("/oauth")
async def sign_in(
    request: Request,
    visitor: AdminDep,
    store: StoreDep,
    secrets: SecretsDep,
    endpoints: OAuthEndpointsDep,
) -> Response:
    """On to the sign-in link of the SMTP server's identity provider, through a page that moves
    on by itself (account_sign_in.html says why not a 303); back on this page after it."""
    started = smtp_sign_in(request, store, secrets, endpoints, console=True)
    result = await attempt(started, ())
    if isinstance(result, FormProblems):
        view = await get_smtp(store)
        return await _page(request, view, 409, problems=result)
    return render(
        request,
        "account_sign_in.html",
        provider_name="the identity provider",
        who="the SMTP server",
        url=result.authorization_url,
        back="the SMTP settings",
    )
