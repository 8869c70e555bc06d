"""Request bodies are refused from the headers, before they are read (postroom_api.door): a
huge body without a key is a 401, a declared length over the route's limit a 413, a chunked
body is cut at the limit; each refusal closes the connection. Against the real `postroom-api`
under uvicorn, with a raw socket client that counts what it got out before the answer."""

import asyncio
import re
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postroom_api.door import JSON_BODY_LIMIT
from postroom_shared.models import EmailAccount
from postroom_shared.store import open_store
from tests.integration.api_harness import KEY, Served, served_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

MB = 1024 * 1024
HUGE = 300 * MB
CHUNK = 64 * 1024


@dataclass
class Outcome:
    status: int
    body: bytes
    sent: int  # body bytes the client got out before the answer (or the cut)
    closed: bool  # the server closed the connection after answering
    seconds: float


def _answer(data: bytes) -> tuple[int, bytes] | None:
    """(status, body) once `data` holds a whole response with a Content-Length."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length is None or len(rest) < int(length.group(1)):
        return None
    return int(head.split()[1]), rest[: int(length.group(1))]


def post_raw(
    served: Served,
    path: str,
    *,
    size: int,
    chunked: bool = False,
    key: str | None = KEY,
    content_type: str = "application/json",
    wait_s: float = 0.0,
) -> Outcome:
    """POST `size` body bytes (or as many as the server takes) and read the answer meanwhile;
    `wait_s`: first wait that long for an answer to the headers alone."""
    head = [f"POST {path} HTTP/1.1", "Host: api", f"Content-Type: {content_type}"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    if key is not None:
        head.append(f"Authorization: Bearer {key}")
    payload = b"x" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + payload + b"\r\n" if chunked else payload
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data, sent, answer = b"", 0, None
        while wait_s > 0 and answer is None and select.select([sock], [], [], wait_s)[0]:
            got = sock.recv(65536)
            if not got:
                break
            data += got
            answer = _answer(data)
        while answer is None:
            assert time.monotonic() - started < 120, "no answer within 2 minutes"
            want_write = [sock] if sent < size else []
            readable, writable, _ = select.select([sock], want_write, [], 10)
            if readable:
                got = sock.recv(65536)
                assert got, f"closed without an answer after {sent} bytes"
                data += got
                answer = _answer(data)
            elif writable:
                try:
                    sock.sendall(frame)
                    sent += CHUNK
                except (BrokenPipeError, ConnectionResetError):
                    sent = size + 1  # cut: stop writing, read the answer
        closed = _closed(sock)
    return Outcome(answer[0], answer[1], min(sent, size), closed, time.monotonic() - started)


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture
def served(stack: StackEnv, sqlite_url: str, tmp_path: Path) -> Iterator[Served]:
    asyncio.run(_push_accounts(sqlite_url))
    with served_api(stack, sqlite_url, tmp_path) as running:
        yield running


async def _push_accounts(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        for account_id, limit in (("acc_small", 4096), ("acc_big", 25 * MB)):
            await store.put_account(
                EmailAccount(
                    id=account_id,
                    name=account_id,
                    address=f"{account_id}@example.test",
                    provider="push",
                    project="Support",
                    max_mail_bytes=limit,
                )
            )
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/accounts", None),
        ("/v1/accounts", "pr_key_000000000000_not-a-key"),
        ("/v1/accounts/acc_big/mail", None),
    ],
)
def test_a_huge_body_without_a_valid_key_is_refused_unread(
    served: Served, path: str, key: str | None
) -> None:
    _, peak_before = served.memory_kb()
    kind = "message/rfc822" if path.endswith("/mail") else "application/json"
    outcome = post_raw(served, path, size=HUGE, key=key, content_type=kind)
    _, peak_after = served.memory_kb()
    print(
        f"{path} key={key is not None}: {outcome.status} after {outcome.sent / MB:.1f} MB of"
        f" {HUGE // MB} MB sent, {outcome.seconds:.2f} s; API peak RSS"
        f" {peak_before // 1024} -> {peak_after // 1024} MB"
    )
    assert outcome.status == 401, outcome.body
    assert b"API key" in outcome.body
    assert outcome.sent < 32 * MB, "the server read the body"
    assert outcome.closed, "the connection stays open: the rest of the body would be read"
    assert peak_after - peak_before < 32 * 1024, "the API's memory grew with the body"


@pytest.mark.parametrize(
    ("path", "size", "limit"),
    [
        ("/v1/accounts", JSON_BODY_LIMIT + 1, JSON_BODY_LIMIT),
        ("/v1/accounts/acc_small/mail", 4097, 4096),
        ("/v1/accounts/acc_big/mail", 25 * MB + 1, 25 * MB),
    ],
)
def test_a_declared_length_over_the_limit_is_413_before_the_body(
    served: Served, path: str, size: int, limit: int
) -> None:
    kind = "message/rfc822" if path.endswith("/mail") else "application/json"
    # the headers alone, then 5 s for an answer before any byte of the body
    outcome = post_raw(served, path, size=size, content_type=kind, wait_s=5.0)
    print(f"{path}: {outcome.status} after {outcome.sent} of {size} bytes sent")
    assert outcome.status == 413, outcome.body
    assert str(limit).encode() in outcome.body
    assert outcome.sent == 0, "answered only once the body came"
    assert outcome.closed


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/v1/accounts", JSON_BODY_LIMIT), ("/v1/accounts/acc_small/mail", 4096)],
)
def test_a_chunked_body_is_cut_at_the_limit(served: Served, path: str, limit: int) -> None:
    _, peak_before = served.memory_kb()
    kind = "message/rfc822" if path.endswith("/mail") else "application/json"
    outcome = post_raw(served, path, size=HUGE, chunked=True, content_type=kind)
    _, peak_after = served.memory_kb()
    print(
        f"{path} chunked: {outcome.status} after {outcome.sent / MB:.1f} MB sent,"
        f" {outcome.seconds:.2f} s; API peak RSS {peak_before // 1024} -> {peak_after // 1024} MB"
    )
    assert outcome.status == 413, outcome.body
    assert str(limit).encode() in outcome.body
    assert outcome.sent < 32 * MB, "the server read on past the limit"
    assert outcome.closed
    assert peak_after - peak_before < 32 * 1024


def test_bodies_within_the_limits_still_pass(served: Served) -> None:
    account = post_raw(served, "/v1/accounts", size=0)  # an empty JSON body: 422, not 413
    assert account.status == 422
    mail = b"From: a@example.test\r\nSubject: small\r\n\r\n" + b"x" * 3000
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        head = (
            "POST /v1/accounts/acc_small/mail HTTP/1.1\r\nHost: api\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: message/rfc822\r\n"
            f"Content-Length: {len(mail)}\r\n\r\n"
        )
        sock.sendall(head.encode() + mail)
        data = b""
        while _answer(data) is None:
            data += sock.recv(65536)
    answer = _answer(data)
    assert answer is not None and answer[0] == 202, data
