"""Queue depths when the broker does not answer: `GET /v1/queues`' function fails within its
bound, and the dashboard shows why instead of failing the page. The "broker" is a socket that
accepts connections and never says a word (a hung server), or a port nobody listens on."""

import socket
import time
from collections.abc import Iterator

import pytest

from postroom_api.console.dashboard_pages import queues_or_why
from postroom_api.routes.activity import queue_depths
from postroom_shared.broker_admin import BrokerAdmin


@pytest.fixture(params=["silent", "closed"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if request.param == "silent":
            sock.listen(8)  # the kernel completes the handshake; nobody ever answers
        yield int(sock.getsockname()[1])


async def test_no_broker_fails_in_bounded_time_and_the_dashboard_says_so(port: int) -> None:
    admin = BrokerAdmin(f"amqp://guest:guest@127.0.0.1:{port}/", timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017,PT011 - whatever the client raises
        await queue_depths(admin)
    queues, why = await queues_or_why(admin)
    elapsed = time.monotonic() - started
    print(f"two reads without a broker: {elapsed:.2f} s")
    assert queues == [] and why.startswith("the broker did not answer")
    assert elapsed < 5
    await admin.close()
