"""The fetch port: what the fetcher keeps between passes over a mailbox and across replicas.

Checkpoints (where a folder's scan goes on), seen keys (POP3 UIDLs, Message-IDs, strikes and
the "fetch now" flag), leases (one replica per account) and each account's connection state.
The API reads the account states (`AccountStates`) and sets "fetch now" through a seen key.
"""

from typing import Protocol

from postroom_shared.models import AccountState, Checkpoint

__all__ = ["AccountStates", "Checkpoints", "FetchStore", "Leases", "SeenKeys"]


class Checkpoints(Protocol):
    async def get_checkpoint(self, account_id: str, folder: str) -> Checkpoint | None: ...
    async def set_checkpoint(self, checkpoint: Checkpoint) -> None: ...


class SeenKeys(Protocol):
    async def seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> set[str]:
        """Which of `keys` were recorded (POP3 UIDLs, Message-IDs of a folder)."""
        ...

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None: ...
    async def prune_seen_keys(self, account_id: str, namespace: str, keep: list[str]) -> int:
        """Forget the keys of `namespace` not in `keep` (gone from the server); how many."""
        ...


class Leases(Protocol):
    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `owner` until now + ttl; False while another
        owner's lease has not expired. Atomic across processes and replicas."""
        ...

    async def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up if `owner` holds it (so another replica can take it at once)."""
        ...


class AccountStates(Protocol):
    async def get_account_state(self, account_id: str) -> AccountState | None: ...
    async def list_account_states(self) -> list[AccountState]: ...


class FetchStore(Checkpoints, SeenKeys, Leases, AccountStates, Protocol):
    async def put_account_state(self, state: AccountState) -> None: ...
