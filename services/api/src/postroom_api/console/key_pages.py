"""The API keys screen (admin only, like the JSON API's /v1/api-keys): the keys with their
scopes, prefix and dates, a form to create one, and revoke after a confirmation.

A new key is shown once, in the answer to the form's POST itself (no-store): it is never put in
the session, a cookie or a URL, so no later page can show it again. The form carries a
single-use nonce: sending it again (the browser's reload of that answer) creates nothing and
shows nothing, only says the key was shown once.

Revoking the key this very session signed in with is allowed (an admin may need to retire a
leaked key they are using), but its confirmation says so plainly, and the browser is then at
the sign-in page: the session ended with the key.
"""

import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom_api.console.access import AdminDep
from postroom_api.console.form_calls import attempt, body_of, validated
from postroom_api.console.forms import FormProblems
from postroom_api.console.pages import render
from postroom_api.console.session import Visitor
from postroom_api.deps import StoreDep
from postroom_api.routes.keys import CreatedApiKey, NewApiKey, create_key, list_keys, revoke_key
from postroom_api.store import ApiStore
from postroom_shared.models import utcnow

__all__ = ["NONCE_PREFIX", "router"]

router = APIRouter(prefix="/ui/keys", include_in_schema=False)
FIELDS = ("name", "scopes", "account_ids")
SCOPES = [
    ("admin", "admin: everything"),
    ("read", "read: see everything, change nothing"),
    ("agent", "agent: read and work items, read people"),
    ("deliver", "deliver: push mail to accounts"),
]
# A form nonce is recorded as used through the store's single-use record (the one the OAuth
# callback's state uses), under its own prefix; it lives as long as a form may stay open.
NONCE_PREFIX = "console-key-form:"
NONCE_LIFE = timedelta(hours=12)
_KeyId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
_DONE = {
    "revoked": "Revoked: the key no longer works.",
    "shown": "That form was sent already: its key was shown once and is not shown again."
    " If it was not copied, revoke it and create another.",
}


async def _page(
    request: Request,
    store: ApiStore,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    problems: FormProblems | None = None,
) -> HTMLResponse:
    return render(
        request,
        "keys.html",
        status_code,
        keys=await list_keys(store),
        values=values or {"scopes": ["read"]},
        problems=problems,
        scopes=SCOPES,
        nonce=secrets.token_urlsafe(18),
        done=_DONE.get(request.query_params.get("done", ""), ""),
    )


@router.get("")
async def keys(request: Request, visitor: AdminDep, store: StoreDep) -> HTMLResponse:
    return await _page(request, store)


@router.post("")
async def create(request: Request, visitor: AdminDep, store: StoreDep) -> Response:
    form = await request.form()
    body = body_of(form, skip=("nonce",), lines=("account_ids",))
    nonce = form.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 100:
        lacking = FormProblems({}, ["the form lacks its single-use mark; reload the page"])
        return await _page(request, store, 400, body, lacking)

    async def created() -> CreatedApiKey | None:
        asked = validated(NewApiKey, body)  # refused: the form again, its nonce still unused
        if not await store.consume_oauth_state(NONCE_PREFIX + nonce, utcnow() + NONCE_LIFE):
            return None
        return await create_key(store, asked)

    result = await attempt(created(), FIELDS)
    if result is None:  # the same form again: its key was shown once, in the first answer
        return RedirectResponse("/ui/keys?done=shown", status_code=303)
    if isinstance(result, FormProblems):
        return await _page(request, store, 422, body, result)
    answer = render(request, "keys_created.html", created=result)
    answer.headers["Cache-Control"] = "no-store"  # no cache, no back/forward copy to show again
    return answer


def _is_own(visitor: Visitor, key_id: str) -> bool:
    return visitor.principal.key_id == key_id


@router.get("/{key_id}/revoke")
async def confirm_revoke(
    request: Request, visitor: AdminDep, store: StoreDep, key_id: _KeyId
) -> HTMLResponse:
    found = [k for k in await list_keys(store) if k.id == key_id and k.revoked_at is None]
    if not found:
        raise HTTPException(404, "no such active API key")
    return render(request, "keys_revoke.html", key=found[0], own=_is_own(visitor, key_id))


@router.post("/{key_id}/revoke")
async def revoke(visitor: AdminDep, store: StoreDep, key_id: _KeyId) -> Response:
    await revoke_key(store, key_id)
    if _is_own(visitor, key_id):  # this session ended with its key
        return RedirectResponse("/ui/login?why=you+revoked+the+key+you+signed+in+with", 303)
    return RedirectResponse("/ui/keys?done=revoked", status_code=303)
