"""The outbound SMTP server (docs/features.md F1): the built-in relay unless a custom server
is stored."""

from fastapi import APIRouter, status

from postroom_api.account_config import oauth_settings
from postroom_api.account_rules import Invalid
from postroom_api.auth import RequireAdmin, RequireRead
from postroom_api.deps import RelayDep, SecretsDep, SettingsDep, StoreDep, TokensDep
from postroom_api.kept_secrets import moved, required_again, smtp_destination
from postroom_api.routing import UNPROCESSABLE, SafeRoute, unprocessable
from postroom_api.schemas import SmtpIn, SmtpSettingsView, SmtpView, TestMailIn, TestMailView
from postroom_api.schemas.common import Problem
from postroom_replier.ops import send_test_mail
from postroom_shared.models import SmtpSettings
from postroom_shared.oauth import SMTP_OWNER
from postroom_shared.secretbox import SecretBox

__all__ = ["build_smtp", "router"]

router = APIRouter(prefix="/v1/smtp", tags=["smtp"], route_class=SafeRoute)


def build_smtp(body: SmtpIn, old: SmtpSettings | None, secrets: SecretBox) -> SmtpSettings:
    """Stored settings for `body`; a stored password or OAuth secret is kept only while it
    would go to the same server, login and identity provider (`kept_secrets`)."""
    found: list[Problem] = []
    if body.auth == "none":
        for name in ("username", "password", "oauth"):
            if getattr(body, name) is not None:
                found.append(((name,), "not used with auth 'none'"))
    else:
        if body.username is None:
            found.append((("username",), f"required with auth {body.auth!r}"))
    if body.auth == "xoauth2":
        if body.oauth is None:
            found.append((("oauth",), "required with auth 'xoauth2'"))
        if body.password is not None:
            found.append((("password",), "not used with auth 'xoauth2' (OAuth 2.0 signs in)"))
    elif body.auth == "password" and body.oauth is not None:
        found.append((("oauth",), "only used with auth 'xoauth2'"))
    changed: list[str] = []
    if old is not None:
        changed = moved(
            smtp_destination(
                old,
                auth=old.auth,
                username=old.username,
                oauth_provider=old.oauth_provider,
                oauth=old.oauth,
            ),
            smtp_destination(
                body,
                auth=body.auth,
                username=body.username,
                oauth_provider=body.oauth_provider,
                oauth=body.oauth,
            ),
        )
    password_enc: str | None = None
    if body.auth == "password":
        if body.password is not None:
            password_enc = secrets.encrypt(body.password.get_secret_value())
        elif old is not None and old.password_enc and not changed:
            password_enc = old.password_enc
        elif old is not None and old.password_enc:
            found.append((("password",), required_again("password", changed)))
        else:
            found.append(
                (("password",), "required with auth 'password' (none is stored for this server)")
            )
    if found:
        raise Invalid(found)
    oauth = None
    if body.auth == "xoauth2" and body.oauth is not None:
        before = old.oauth if old is not None else None
        oauth = oauth_settings(body.oauth, before, secrets, loc=("oauth",), changed=changed)
    return SmtpSettings(
        host=body.host,
        port=body.port,
        security=body.security,
        verify_tls=body.verify_tls,
        auth=body.auth,
        username=body.username if body.auth != "none" else None,
        password_enc=password_enc,
        oauth=oauth,
        oauth_provider=body.oauth_provider if body.auth == "xoauth2" else None,
    )


def _view(smtp: SmtpSettings | None) -> SmtpView:
    if smtp is None:
        return SmtpView(mode="builtin", custom=None)
    return SmtpView(mode="custom", custom=SmtpSettingsView.of(smtp))


@router.get("", summary="The SMTP server automatic mail goes through", dependencies=[RequireRead])
async def get_smtp(store: StoreDep) -> SmtpView:
    return _view(await store.get_smtp_settings())


@router.put(
    "",
    summary="Use a custom SMTP server (password and OAuth secrets write-only)",
    responses=UNPROCESSABLE,
    dependencies=[RequireAdmin],
)
async def put_smtp(
    store: StoreDep, secrets: SecretsDep, tokens: TokensDep, body: SmtpIn
) -> SmtpView:
    try:
        smtp = build_smtp(body, await store.get_smtp_settings(), secrets)
    except Invalid as exc:
        raise unprocessable(exc.problems) from None
    await store.put_smtp_settings(smtp)
    tokens.forget(SMTP_OWNER)  # the next test mail uses the new OAuth settings
    return _view(smtp)


@router.post(
    "/test",
    summary="Send a test mail through the SMTP server automatic mail uses",
    description="200 either way: `ok` false with the server's own words when it failed.",
    responses=UNPROCESSABLE,
    dependencies=[RequireAdmin],
)
async def send_test(
    store: StoreDep,
    secrets: SecretsDep,
    relay: RelayDep,
    tokens: TokensDep,
    settings: SettingsDep,
    body: TestMailIn,
) -> TestMailView:
    sender = body.from_address
    if sender is None:
        active = await store.list_accounts(active_only=True)
        if not active:
            raise unprocessable([(("from_address",), "required: no active account to send as")])
        sender = active[0].address
    result = await send_test_mail(
        store,
        secrets,
        relay,
        tokens,
        to=body.to,
        from_address=sender,
        instance=settings.instance,
    )
    return TestMailView(
        ok=result.ok, smtp_response=result.smtp_response, error=result.error, server=result.server
    )


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Back to the built-in relay (forgets the custom server and its secrets)",
    dependencies=[RequireAdmin],
)
async def delete_smtp(store: StoreDep, tokens: TokensDep) -> None:
    await store.delete_smtp_settings()
    tokens.forget(SMTP_OWNER)
