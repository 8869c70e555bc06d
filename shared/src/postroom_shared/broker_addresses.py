"""The addresses of a RabbitMQ cluster, from one setting, and which one to dial next.

`POSTROOM_BROKER_URL` holds one AMQP URL or several, comma-separated (every node of a
cluster). Pure code, kept apart from the connection that uses it (`broker_failover`) so that
reading the settings loads no AMQP client.
"""

import re

from yarl import URL

__all__ = ["AddressRing", "broker_addresses", "redacted"]

# a comma only separates addresses where the next URL begins: a password may hold a comma
_SPLIT = re.compile(r"\s*,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def broker_addresses(setting: str) -> tuple[str, ...]:
    """The AMQP URLs of a `POSTROOM_BROKER_URL` value: one URL, or several comma-separated
    (a comma after the last one is ignored; one in a vhost name must be written %2C)."""
    addresses = tuple(part.strip() for part in _SPLIT.split(setting.strip().rstrip(", ")))
    for address in addresses:
        if not re.match(r"^amqps?://[^\s/]", address) or address.endswith(","):
            raise ValueError(f"not an amqp:// or amqps:// URL: {redacted(address)!r}")
    return addresses


def redacted(address: str) -> str:
    """The address without its password, for logs and errors."""
    try:
        url = URL(address)
    except ValueError:
        return "<unparsable URL>"
    return str(url.with_password("***")) if url.password else address


class AddressRing:
    """The broker addresses in order, and which one to dial next."""

    def __init__(self, addresses: tuple[str, ...]) -> None:
        if not addresses:
            raise ValueError("at least one broker address is needed")
        self.addresses = addresses
        self.position = 0

    @property
    def current(self) -> str:
        return self.addresses[self.position]

    def advance(self) -> str:
        """Move on to the next address (after the last one, the first again); returns it."""
        self.position = (self.position + 1) % len(self.addresses)
        return self.current

    def __len__(self) -> int:
        return len(self.addresses)
