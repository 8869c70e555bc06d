"""The configuration port: what an admin sets up through the API and the services read.

Accounts, the outbound SMTP settings, templates, workflows, people and contacts, API keys,
OAuth refresh tokens and sign-in states. The API writes it; the fetcher, converter and replier
mostly read it, hence `ConfigReader`. The two writes outside the API are narrow ports of their
own: the converter records unknown senders as contacts (`Contacts`), and whoever refreshes an
OAuth token stores the rotated refresh token (`RefreshTokens`).
"""

from datetime import datetime
from typing import Protocol

from postroom_shared.models import (
    ApiKey,
    BounceMark,
    EmailAccount,
    NotificationTemplate,
    Person,
    SmtpSettings,
    Workflow,
)

__all__ = ["ConfigReader", "ConfigStore", "Contacts", "RefreshTokens", "TokenOwners"]


class ConfigReader(Protocol):
    """Reading the configuration (every service)."""

    async def get_account(self, account_id: str) -> EmailAccount | None: ...
    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]: ...
    async def get_smtp_settings(self) -> SmtpSettings | None: ...
    async def get_workflow(self, workflow_id: str) -> Workflow | None: ...
    async def list_workflows(self) -> list[Workflow]: ...
    async def get_template(self, template_id: str) -> NotificationTemplate | None: ...
    async def list_templates(self) -> list[NotificationTemplate]: ...
    async def find_person(self, address: str) -> Person | None: ...
    async def get_person(self, person_id: str) -> Person | None: ...
    async def list_people(self, *, kind: str | None = None, limit: int = 100) -> list[Person]: ...


class Contacts(Protocol):
    """Senders become contacts (the converter); hard bounces mark their person."""

    async def ensure_contact(self, person: Person) -> Person:
        """The person owning `person.emails[0]`, creating `person` when nobody does."""
        ...

    async def set_bounce(self, person_id: str, mark: BounceMark | None) -> bool:
        """Set (or with None clear) the bounce mark of a person; False when there is no such
        person. Setting the same mark again changes nothing else."""
        ...


class RefreshTokens(Protocol):
    """OAuth providers rotate refresh tokens; whoever refreshed one stores the new one."""

    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        """Store a rotated OAuth refresh token at once, touching nothing else: `owner` is an
        account id or "smtp". False when the owner (or its oauth settings) is gone."""
        ...


class TokenOwners(ConfigReader, RefreshTokens, Protocol):
    """What refreshing an OAuth token takes: the owner's stored settings, and a place for the
    rotated refresh token (every service that talks OAuth to a mail server)."""


class ConfigStore(ConfigReader, Contacts, RefreshTokens, Protocol):
    """The whole configuration, as the API administers it."""

    async def put_account(self, account: EmailAccount) -> None:
        """Insert or replace by id; names are unique (ValueError on a clash)."""
        ...

    async def delete_account(self, account_id: str) -> bool:
        """Delete the account and its fetch state (checkpoints, seen keys, lease, state);
        its items, threads and log stay: they are history."""
        ...

    async def put_smtp_settings(self, settings: SmtpSettings) -> None: ...
    async def delete_smtp_settings(self) -> bool:
        """Back to the built-in relay; False when none was stored."""
        ...

    async def put_workflow(self, workflow: Workflow) -> None: ...
    async def delete_workflow(self, workflow_id: str) -> bool: ...
    async def put_template(self, template: NotificationTemplate) -> None: ...
    async def delete_template(self, template_id: str) -> bool: ...
    async def put_person(self, person: Person) -> None:
        """Insert or replace; an address belongs to one person (ValueError on a clash)."""
        ...

    async def delete_person(self, person_id: str) -> bool: ...

    # API keys (only hashes are stored)
    async def put_api_key(self, key: ApiKey) -> None: ...
    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def list_api_keys(self) -> list[ApiKey]: ...
    async def revoke_api_key(self, key_id: str) -> bool:
        """Set revoked_at; False when unknown or already revoked."""
        ...

    # OAuth sign-in (the API's callback)
    async def consume_oauth_state(self, state_id: str, expires_at: datetime) -> bool:
        """Record the sign-in state `state_id` as used: True the first time, False ever after.
        Atomic across processes; the record may go once `expires_at` (the state's own expiry,
        after which the state is refused anyway) has passed."""
        ...
