"""POSTROOM_BROKER_URL with several addresses: parsing, the order they are dialled in, and the
broker that hands its connection class to aio-pika (the failover itself runs on a real cluster
in tests/e2e/test_broker_cluster.py)."""

import pytest
from aio_pika import RobustConnection
from pydantic import SecretStr, ValidationError

from postroom_shared.broker_addresses import AddressRing, broker_addresses, redacted
from postroom_shared.broker_failover import ClusterBroker, FailoverConnection
from postroom_shared.runtime import make_broker
from postroom_shared.settings import CommonSettings

A, B, C = (f"amqp://u:p@rabbit-{n}:5672/" for n in range(3))


def settings(broker_url: str) -> CommonSettings:
    return CommonSettings(
        store_url="sqlite:////tmp/unused.db", secret_key=SecretStr("k" * 40), broker_url=broker_url
    )


def test_one_url_is_one_address_as_it_was() -> None:
    assert broker_addresses("amqp://guest:guest@127.0.0.1:5672/") == (
        "amqp://guest:guest@127.0.0.1:5672/",
    )


def test_several_urls_comma_separated_in_order_spaces_ignored() -> None:
    assert broker_addresses(f"{A},{B} , {C}") == (A, B, C)
    assert broker_addresses(f"{A},{B}, ") == (A, B)  # a trailing comma is no address
    assert broker_addresses("amqps://u:p@a:5671/vh,amqp://u:p@b/vh") == (
        "amqps://u:p@a:5671/vh",
        "amqp://u:p@b/vh",
    )


def test_a_comma_inside_a_password_does_not_split() -> None:
    assert broker_addresses(f"amqp://u:pa,ss@a:5672/,{B}") == ("amqp://u:pa,ss@a:5672/", B)


@pytest.mark.parametrize("bad", ["", "rabbit-0:5672", f"{A},,{B}", f"{A},http://x/", "amqp://"])
def test_anything_but_amqp_urls_is_refused_by_the_settings(bad: str) -> None:
    with pytest.raises(ValueError, match="not an amqp:// or amqps:// URL"):
        broker_addresses(bad)
    with pytest.raises(ValidationError):
        settings(bad)


def test_a_refused_address_is_reported_without_its_password() -> None:
    with pytest.raises(ValueError, match="http://user:") as caught:
        broker_addresses(f"{A},http://user:secret@x/")
    assert "secret" not in str(caught.value)
    assert redacted("amqp://u:secret@h:1/") == "amqp://u:***@h:1/"
    assert redacted("amqp://h:1/") == "amqp://h:1/"


def test_the_ring_dials_each_address_in_turn_and_starts_over() -> None:
    ring = AddressRing((A, B, C))
    assert ring.current == A
    assert [ring.advance() for _ in range(4)] == [B, C, A, B]
    assert len(ring) == 3
    single = AddressRing((A,))
    assert single.advance() == A
    with pytest.raises(ValueError, match="at least one"):
        AddressRing(())


def test_every_broker_dials_through_a_failover_connection_bound_to_its_own_ring() -> None:
    first, second = make_broker(settings(f"{A},{B}")), make_broker(settings(C))
    assert isinstance(first, ClusterBroker) and isinstance(second, ClusterBroker)
    # RabbitBroker._connect calls aio_pika.connect_robust(**_connection_kwargs): this is the
    # hook; a FastStream upgrade that drops it fails here instead of silently not failing over
    kwargs = first._connection_kwargs
    connection_class = kwargs["connection_class"]
    assert issubclass(connection_class, FailoverConnection)
    assert issubclass(connection_class, RobustConnection)
    assert connection_class.ring is first.ring
    assert second._connection_kwargs["connection_class"].ring is second.ring
    assert kwargs["url"] == A and first.ring.addresses == (A, B)
    assert kwargs["timeout"] > 0  # a silent address cannot hold the move to the next one
    assert first.address == "amqp://u:***@rabbit-0:5672/"
