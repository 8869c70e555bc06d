"""`postroom health NAME --local`, the readiness probe of the Kubernetes pods
(deploy/kubernetes/): with several replicas sharing one store, a pod is ready only when its own
instance (`<hostname>:<pid>`) has a fresh ready heartbeat, not when another pod's has. On both
stores, since production runs on MongoDB."""

import asyncio
import http.server
import socket
import threading

import pytest

from postroom_cli.health import _api_ready, container_service
from postroom_cli.main import run
from postroom_shared.models import ServiceHeartbeat
from postroom_shared.store import open_store


async def _beat(url: str, instance: str, ready: bool) -> None:
    store = await open_store(url)
    detail = "" if ready else "broker connection down"
    await store.heartbeat(
        ServiceHeartbeat(service="converter", instance=instance, ready=ready, detail=detail)
    )
    await store.close()


def _beat_now(url: str, instance: str, ready: bool) -> None:
    asyncio.run(_beat(url, instance, ready))


def _health(*argv: str) -> int:
    return run(["health", *argv])


def test_local_health_asks_about_this_pods_instance_only(
    store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTROOM_STORE_URL", store_url)
    monkeypatch.setenv("POSTROOM_SECRET_KEY", "k" * 40)
    here = socket.gethostname()
    _beat_now(store_url, "another-pod-7d9f:1", ready=True)
    assert _health("converter") == 0  # some converter is ready...
    assert _health("converter", "--local") == 1  # ...but not this pod's
    assert "no fresh heartbeat" in capsys.readouterr().err

    _beat_now(store_url, f"{here}:41", ready=False)
    assert _health("converter", "--local") == 1
    assert "broker connection down" in capsys.readouterr().err

    _beat_now(store_url, f"{here}:42", ready=True)
    assert _health("converter", "--local") == 0
    assert f"{here}:42" in capsys.readouterr().out
    assert _health("replier", "--local") == 1


@pytest.mark.parametrize(
    ("cmdline", "service"),
    [
        (b"/app/.venv/bin/python\0/app/.venv/bin/postroom-converter\0", "converter"),
        (b"postroom-replier\0", "replier"),
        (b"/app/.venv/bin/python\0/app/.venv/bin/postroom-api\0", "api"),
        (b"/app/.venv/bin/python\0/app/.venv/bin/postroom\0seed-demo\0", None),
        (b"/sbin/init\0", None),
        (b"", None),
    ],
)
def test_self_is_the_service_pid_1_runs(cmdline: bytes, service: str | None) -> None:
    assert container_service(cmdline) == service


def test_self_in_an_api_container_asks_its_own_readyz(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    status = [200]

    class Readyz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("POSTROOM_API_PORT", str(server.server_address[1]))
        assert _api_ready() == 0
        status[0] = 503
        assert _api_ready() == 1
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["/readyz?services=false"] * 2
    monkeypatch.setenv("POSTROOM_API_PORT", str(server.server_address[1]))
    assert _api_ready() == 1  # nothing listens any more
