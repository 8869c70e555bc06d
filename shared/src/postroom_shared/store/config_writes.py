"""A store wrapper that notices every configuration write made through it: the base of the
API's announcing store (`postroom_api.announcing_store`) and of the services' config cache
(`config_cache.py`), so the list of what counts as a configuration write exists once.

Every method it does not override is the wrapped store's own (`__getattr__`); `as_store`
hands the wrapper out under the `Store` protocol, which mypy cannot see through delegation.
"""

from typing import Any, cast

from postroom_shared.models import EmailAccount, NotificationTemplate, SmtpSettings, Workflow
from postroom_shared.store.ports import Store

__all__ = ["ConfigWrites"]


class ConfigWrites:
    """Delegates to `store`; `written(what, id)` runs after each configuration write that
    changed something (what: "account", "workflow", "smtp", "template")."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def as_store(self) -> Store:
        return cast(Store, self)

    async def written(self, what: str, ident: str | None) -> None:
        """Called after a configuration write; subclasses say what follows from it."""

    async def put_account(self, account: EmailAccount) -> None:
        await self._store.put_account(account)
        await self.written("account", account.id)

    async def delete_account(self, account_id: str) -> bool:
        deleted = await self._store.delete_account(account_id)
        if deleted:
            await self.written("account", account_id)
        return deleted

    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        stored = await self._store.set_refresh_token(owner, refresh_token_enc)
        if stored:
            await self.written("smtp" if owner == "smtp" else "account", owner)
        return stored

    async def put_smtp_settings(self, settings: SmtpSettings) -> None:
        await self._store.put_smtp_settings(settings)
        await self.written("smtp", None)

    async def delete_smtp_settings(self) -> bool:
        deleted = await self._store.delete_smtp_settings()
        if deleted:
            await self.written("smtp", None)
        return deleted

    async def put_workflow(self, workflow: Workflow) -> None:
        await self._store.put_workflow(workflow)
        await self.written("workflow", workflow.id)

    async def delete_workflow(self, workflow_id: str) -> bool:
        deleted = await self._store.delete_workflow(workflow_id)
        if deleted:
            await self.written("workflow", workflow_id)
        return deleted

    async def put_template(self, template: NotificationTemplate) -> None:
        await self._store.put_template(template)
        await self.written("template", template.id)

    async def delete_template(self, template_id: str) -> bool:
        deleted = await self._store.delete_template(template_id)
        if deleted:
            await self.written("template", template_id)
        return deleted
