"""The configuration port on MongoDB: accounts, settings, templates, workflows, people, API
keys, refresh tokens and OAuth sign-in states.

Uniqueness rides on unique indexes (account names, a person's addresses, key hashes): a
duplicate-key error is the clash the port reports as ValueError or as "already there".
"""

from datetime import datetime

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from postroom_shared.models import (
    ApiKey,
    BounceMark,
    EmailAccount,
    NotificationTemplate,
    Person,
    SmtpSettings,
    Workflow,
    utcnow,
)
from postroom_shared.store.mongo.base import Doc, MongoBase, to_doc

__all__ = ["MongoConfig"]


class MongoConfig(MongoBase):
    """`ConfigStore` on MongoDB."""

    # accounts ------------------------------------------------------------------------------
    async def put_account(self, account: EmailAccount) -> None:
        try:
            await self._replace("accounts", account.id, account)
        except DuplicateKeyError as exc:
            raise ValueError(f"an account named {account.name!r} already exists") from exc

    async def get_account(self, account_id: str) -> EmailAccount | None:
        return await self._find(EmailAccount, "accounts", {"_id": account_id})

    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]:
        query: Doc = {"active": True} if active_only else {}
        return await self._models(
            EmailAccount, self._db.accounts.find(query).sort("name", ASCENDING)
        )

    async def delete_account(self, account_id: str) -> bool:
        # Its fetch state goes with it; items, threads and the log stay (they are history).
        key = str(account_id)
        await self._db.account_states.delete_one({"_id": key})
        await self._db.checkpoints.delete_many({"account_id": key})
        await self._db.seen_keys.delete_many({"account_id": key})
        await self._db.leases.delete_one({"_id": f"fetch:{key}"})
        return (await self._db.accounts.delete_one({"_id": key})).deleted_count > 0

    # SMTP settings, workflows, templates ---------------------------------------------------
    async def get_smtp_settings(self) -> SmtpSettings | None:
        return await self._find(SmtpSettings, "settings", {"_id": "smtp"})

    async def put_smtp_settings(self, settings: SmtpSettings) -> None:
        await self._replace("settings", "smtp", settings)

    async def delete_smtp_settings(self) -> bool:
        return (await self._db.settings.delete_one({"_id": "smtp"})).deleted_count > 0

    async def put_workflow(self, workflow: Workflow) -> None:
        await self._replace("workflows", workflow.id, workflow)

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        return await self._find(Workflow, "workflows", {"_id": workflow_id})

    async def list_workflows(self) -> list[Workflow]:
        return await self._all(Workflow, "workflows")

    async def delete_workflow(self, workflow_id: str) -> bool:
        return (await self._db.workflows.delete_one({"_id": str(workflow_id)})).deleted_count > 0

    async def put_template(self, template: NotificationTemplate) -> None:
        await self._replace("templates", template.id, template)

    async def get_template(self, template_id: str) -> NotificationTemplate | None:
        return await self._find(NotificationTemplate, "templates", {"_id": str(template_id)})

    async def list_templates(self) -> list[NotificationTemplate]:
        return await self._all(NotificationTemplate, "templates")

    async def delete_template(self, template_id: str) -> bool:
        return (await self._db.templates.delete_one({"_id": str(template_id)})).deleted_count > 0

    # people and contacts -------------------------------------------------------------------
    async def put_person(self, person: Person) -> None:
        try:
            await self._replace("people", person.id, person)
        except DuplicateKeyError as exc:
            raise ValueError(f"an address of {person.id} belongs to another person") from exc

    async def find_person(self, address: str) -> Person | None:
        return await self._find(Person, "people", {"emails": str(address).lower()})

    async def ensure_contact(self, person: Person) -> Person:
        try:
            await self._db.people.insert_one(to_doc(person, _id=person.id))
        except DuplicateKeyError:
            existing = await self.find_person(person.emails[0])
            if existing is not None:
                return existing
            raise
        return person

    async def set_bounce(self, person_id: str, mark: BounceMark | None) -> bool:
        result = await self._db.people.update_one(
            {"_id": str(person_id)}, {"$set": {"bounce": mark.model_dump() if mark else None}}
        )
        return result.matched_count == 1

    async def get_person(self, person_id: str) -> Person | None:
        return await self._find(Person, "people", {"_id": str(person_id)})

    async def list_people(self, *, kind: str | None = None, limit: int = 100) -> list[Person]:
        query: Doc = {"kind": str(kind)} if kind is not None else {}
        return await self._models(
            Person, self._db.people.find(query).sort("_id", ASCENDING).limit(limit)
        )

    async def delete_person(self, person_id: str) -> bool:
        return (await self._db.people.delete_one({"_id": str(person_id)})).deleted_count > 0

    # OAuth --------------------------------------------------------------------------------
    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        collection = self._db.settings if owner == "smtp" else self._db.accounts
        result = await collection.update_one(
            {"_id": str(owner), "oauth": {"$type": "object"}},
            {"$set": {"oauth.refresh_token_enc": str(refresh_token_enc)}},
        )
        return result.matched_count > 0

    # OAuth sign-in states used (single-use): the state id is the _id, so of two concurrent
    # uses one insert fails; documents past their state's expiry go with each new use.
    async def consume_oauth_state(self, state_id: str, expires_at: datetime) -> bool:
        await self._db.oauth_states.delete_many({"expires_at": {"$lt": utcnow()}})
        try:
            await self._db.oauth_states.insert_one({"_id": str(state_id), "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True

    # API keys ------------------------------------------------------------------------------
    async def put_api_key(self, key: ApiKey) -> None:
        await self._replace("api_keys", key.id, key)

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._find(ApiKey, "api_keys", {"key_hash": str(key_hash)})

    async def list_api_keys(self) -> list[ApiKey]:
        return await self._all(ApiKey, "api_keys")

    async def revoke_api_key(self, key_id: str) -> bool:
        result = await self._db.api_keys.update_one(
            {"_id": str(key_id), "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        return result.modified_count > 0
