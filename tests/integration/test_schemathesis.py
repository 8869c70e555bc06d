"""Property-based fuzzing of the whole HTTP API from its OpenAPI schema (schemathesis): no
input, however odd, may produce a server error. Runs the real `postroom-api` under uvicorn on
the session stack's broker and a fresh SQLite store."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api_app import ADMIN_KEY, SECRET
from tests.stack_env import REPO, StackEnv

pytestmark = pytest.mark.stack

MAX_EXAMPLES = 35  # about a minute for the whole API (~50 operations) on this machine


@pytest.fixture
def api_url(stack: StackEnv, tmp_path: Path) -> Iterator[str]:
    port = stack.base + 380
    env = dict(
        os.environ,
        POSTROOM_STORE_URL=f"sqlite:///{tmp_path / 'postroom.db'}",
        POSTROOM_BROKER_URL=stack.amqp_url,
        POSTROOM_SECRET_KEY=SECRET,
        POSTROOM_ADMIN_API_KEY=ADMIN_KEY,
        POSTROOM_API_PORT=str(port),
        POSTROOM_LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/postroom-api")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"{url}/readyz", params={"services": "false"}, timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("postroom-api did not start:\n" + (tmp_path / "api.log").read_text())
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        # Server errors are logged with their traceback: show them with a failure.
        print((tmp_path / "api.log").read_text()[-20000:])


def test_no_input_makes_the_api_fail(api_url: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            str(REPO / ".venv/bin/schemathesis"),
            "run",
            f"{api_url}/openapi.json",
            "-H",
            f"Authorization: Bearer {ADMIN_KEY}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--no-color",
            "--request-timeout",
            "20",
            # 503 is what readiness answers while the services are not running (they are not
            # here); its semantics are tested in test_api.py.
            "--exclude-path",
            "/readyz",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        env=dict(
            os.environ,
            PYTHONPATH=str(REPO),
            SCHEMATHESIS_HOOKS="tests.integration.schemathesis_hooks",
        ),
    )
    assert run.returncode == 0, run.stdout[-15000:] + run.stderr[-3000:]
