"""The fetch port on MongoDB: checkpoints, seen keys, leases and account states.

A lease is one document taken by a single upsert that matches only a lease its owner holds
or one that expired; another owner's live lease makes the upsert collide on `_id` ("taken").
"""

import hashlib
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from postroom_shared.models import AccountState, Checkpoint, utcnow
from postroom_shared.store.mongo.base import MongoBase

__all__ = ["MongoFetch"]


class MongoFetch(MongoBase):
    """`FetchStore` on MongoDB."""

    async def get_checkpoint(self, account_id: str, folder: str) -> Checkpoint | None:
        return await self._find(Checkpoint, "checkpoints", {"_id": f"{account_id}\x1f{folder}"})

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        key = f"{checkpoint.account_id}\x1f{checkpoint.folder}"
        await self._replace("checkpoints", key, checkpoint)

    # seen keys -----------------------------------------------------------------------------
    @staticmethod
    def _seen_id(account_id: str, namespace: str, key: str) -> str:
        return hashlib.sha256(f"{account_id}\x1f{namespace}\x1f{key}".encode()).hexdigest()

    async def seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = [str(k) for k in keys[start : start + 500]]
            cursor = self._db.seen_keys.find(
                {"account_id": str(account_id), "namespace": str(namespace), "key": {"$in": chunk}}
            )
            found.update([doc["key"] async for doc in cursor])
        return found

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None:
        now = utcnow()
        for key in keys:
            doc = {"account_id": str(account_id), "namespace": str(namespace), "key": str(key)}
            await self._db.seen_keys.update_one(
                {"_id": self._seen_id(account_id, namespace, key)},
                {"$set": doc, "$setOnInsert": {"at": now}},  # `at`: first recorded (retention)
                upsert=True,
            )

    async def prune_seen_keys(self, account_id: str, namespace: str, keep: list[str]) -> int:
        result = await self._db.seen_keys.delete_many(
            {
                "account_id": str(account_id),
                "namespace": str(namespace),
                "key": {"$nin": [str(k) for k in keep]},
            }
        )
        return result.deleted_count

    # leases --------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        # One upsert: it matches a lease we hold or one that expired; a live lease of another
        # owner makes the upsert collide on _id, which means "taken".
        now = utcnow()
        try:
            await self._db.leases.update_one(
                {"_id": str(name), "$or": [{"owner": str(owner)}, {"expires": {"$lt": now}}]},
                {"$set": {"owner": str(owner), "expires": now + timedelta(seconds=ttl_s)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        await self._db.leases.delete_one({"_id": str(name), "owner": str(owner)})

    # account states ------------------------------------------------------------------------
    async def put_account_state(self, state: AccountState) -> None:
        await self._replace("account_states", state.account_id, state)

    async def get_account_state(self, account_id: str) -> AccountState | None:
        return await self._find(AccountState, "account_states", {"_id": str(account_id)})

    async def list_account_states(self) -> list[AccountState]:
        return await self._all(AccountState, "account_states")
