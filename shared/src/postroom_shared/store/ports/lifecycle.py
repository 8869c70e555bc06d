"""The lifecycle port: opening, closing and probing the one connection a store holds.

Apart from the roles because only the composition root (`open_store`, a service's runtime)
opens and closes a store, while health checks only ping it.
"""

from typing import Protocol

__all__ = ["Lifecycle", "Pingable"]


class Pingable(Protocol):
    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...


class Lifecycle(Pingable, Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...
