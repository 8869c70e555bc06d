"""What every settings tab of one account shares: the account's values as the form shows them,
and Save through the JSON PATCH route's own function (`routes.accounts.patch_account`: merged
into the stored account, validated as a whole, references checked), its 422 back next to the
fields. The tabs themselves are `account_rules_pages` (Creating items, Actions) and
`auto_reply_pages` (Auto-reply).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from postroom_api.account_edits import input_of, merge
from postroom_api.console.forms import FormProblems, field_errors
from postroom_api.console.pages import render
from postroom_api.console.rule_forms import folded
from postroom_api.deps import SecretsDep, StoreDep, TokensDep
from postroom_api.routes.accounts import load_account, patch_account
from postroom_api.schemas import AccountPatch, AccountView
from postroom_api.store import ApiStore
from postroom_shared.oauth import TokenSource
from postroom_shared.secretbox import SecretBox

__all__ = ["Tab", "TabDep", "saved"]


@dataclass
class Tab:
    """One account tab's request and the parts Save needs."""

    request: Request
    store: ApiStore
    secrets: SecretBox
    tokens: TokenSource

    async def page(
        self,
        account_id: str,
        name: str,
        tab: str,
        *,
        status_code: int = 200,
        posted: dict[str, Any] | None = None,
        problems: FormProblems | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """The tab with the stored values, or with what was posted over them after a refusal."""
        stored = await load_account(self.store, account_id)
        values = input_of(stored)
        if posted:
            values = merge(values, posted)
        return render(
            self.request,
            name,
            status_code,
            account=AccountView.of(stored),
            tab=tab,
            values=values,
            problems=problems,
            saved=self.request.query_params.get("saved") == "1",
            admin=self.request.state.visitor.principal.admin,
            **context,
        )

    async def refused(
        self,
        account_id: str,
        name: str,
        tab: str,
        posted: dict[str, Any],
        problems: FormProblems,
        **context: Any,
    ) -> HTMLResponse:
        """The tab again, 422, with what was posted and why it was refused."""
        return await self.page(
            account_id, name, tab, status_code=422, posted=posted, problems=problems, **context
        )

    async def save(
        self, account_id: str, body: dict[str, Any], known: Iterable[str], tables: Iterable[str]
    ) -> FormProblems | None:
        """PATCH `body` into the account; None when saved, else its problems by field."""
        try:
            patch = AccountPatch.model_validate(body)
            await patch_account(self.store, self.secrets, self.tokens, account_id, patch)
        except (RequestValidationError, ValidationError) as exc:
            return folded(field_errors(exc), known, tables)
        except HTTPException as exc:
            if exc.status_code != 409:
                raise
            return FormProblems({}, [str(exc.detail)])
        return None


def saved(account_id: str, path: str) -> Response:
    return RedirectResponse(f"/ui/accounts/{account_id}/{path}?saved=1", status_code=303)


async def _tab(request: Request, store: StoreDep, secrets: SecretsDep, tokens: TokensDep) -> Tab:
    return Tab(request, store, secrets, tokens)


TabDep = Annotated[Tab, Depends(_tab)]
