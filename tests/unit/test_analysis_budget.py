"""The per-mail CPU budget (issue 10, point 1): analysis in worker processes that a deadline
stops, without blocking the caller's event loop.

Every pattern over mail content is linear and HTML nesting is capped, so no real mail runs
away any more: the slow mail here is one the test worker (`tests/spinning_worker.py`) spins on
for ever, like a backtracking pattern did. `postroom parse` runs the real worker on a large mail
under a tiny budget. No servers are needed; the workers are real processes.
"""

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from postroom_converter.budget import Analyser, TooSlow, analyse_once, shared_analyser
from postroom_converter.domain.limits import MAX_MAIL_BYTES
from postroom_converter.worker import read_frame, read_request, write_frame
from postroom_converter.worker_process import AnalysisFailed
from postroom_shared.mail.msgid import MessageIdSigner

SIGNER = MessageIdSigner("b" * 40, "example.test")
HEAD = "From: Casey <casey@example.org>\r\nTo: support@example.test\r\nSubject: {}\r\n"
SLOW = (HEAD.format("spin") + "\r\nThis one never finishes.\r\n").encode()
SPINNING = "tests.spinning_worker"
# A large, real mail (20 MB of HTML nested 200 deep): seconds of honest, linear work.
LARGE = (
    HEAD.format("large")
    + "Content-Type: text/html\r\n\r\n"
    + ("<div>" * 200 + "x" + "</div>" * 200) * 9_000
).encode()
POSTROOM = Path(sys.executable).parent / "postroom"


def ordinary(subject: str = "Printer on fire") -> bytes:
    return (HEAD.format(subject) + "\r\nThe printer on floor 2 is on fire.\r\n").encode()


@pytest.fixture
async def analyser() -> AsyncIterator[Analyser]:
    pool = Analyser(SIGNER, budget_s=1.0, workers=1, worker_module=SPINNING)
    yield pool
    pool.close()


def _workers() -> set[int]:
    """Pids of this process's analysis workers (other tests may have left some running)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and (
            b"postroom_converter.worker" in cmdline or SPINNING.encode() in cmdline
        ):
            found.add(int(entry.name))
    return found


@pytest.mark.timeout(60)
async def test_a_mail_over_the_budget_is_stopped_and_the_next_one_is_analysed(
    analyser: Analyser,
) -> None:
    others = _workers()
    assert (await analyser.analyse(ordinary())).mail is not None  # worker started and warm
    (first,) = _workers() - others
    started = time.perf_counter()
    with pytest.raises(TooSlow) as caught:
        await analyser.analyse(SLOW)
    took = time.perf_counter() - started
    assert 1.0 <= took < 4.0
    assert str(caught.value).startswith("too_slow")
    result = await analyser.analyse(ordinary("next"))
    assert result.mail is not None
    assert result.mail.subject == "next"
    assert first not in _workers(), "the worker that ran over the budget is gone"
    print(f"too_slow after {took:.2f} s (budget 1 s)")


@pytest.mark.timeout(60)
async def test_the_event_loop_keeps_running_while_a_mail_is_analysed(
    analyser: Analyser,
) -> None:
    await analyser.analyse(ordinary())
    beats: list[float] = []

    async def heartbeat() -> None:
        while True:
            beats.append(time.perf_counter())
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    with pytest.raises(TooSlow):
        await analyser.analyse(SLOW)
    beating.cancel()
    gap = max(later - earlier for earlier, later in itertools.pairwise(beats))
    assert len(beats) > 20
    assert gap < 0.5, f"the event loop stood still for {gap:.2f} s"
    print(f"longest event-loop gap while analysing: {gap * 1000:.0f} ms")


@pytest.mark.timeout(60)
async def test_a_slow_mail_does_not_hold_up_other_mail() -> None:
    pool = Analyser(SIGNER, budget_s=3.0, workers=2, worker_module=SPINNING)
    try:
        slow = asyncio.create_task(pool.analyse(SLOW))
        await asyncio.sleep(0.5)  # the slow one has a worker
        started = time.perf_counter()
        quick = await pool.analyse(ordinary())
        assert quick.mail is not None
        assert time.perf_counter() - started < 2.5  # (a second worker starts: ~0.5 s)
        assert not slow.done()
        with pytest.raises(TooSlow):
            await slow
    finally:
        pool.close()


@pytest.mark.timeout(60)
async def test_a_worker_that_dies_is_reported_and_replaced() -> None:
    pool = Analyser(SIGNER, budget_s=30.0, workers=1, worker_module=SPINNING)
    try:
        others = _workers()
        await pool.analyse(ordinary())
        (pid,) = _workers() - others
        running = asyncio.create_task(pool.analyse(SLOW))
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)  # e.g. the kernel's OOM killer
        with pytest.raises(AnalysisFailed, match="died"):
            await asyncio.wait_for(running, timeout=10)
        assert (await pool.analyse(ordinary())).mail is not None
    finally:
        pool.close()


@pytest.mark.timeout(60)
async def test_the_answer_is_compact_and_carries_no_message_tree(analyser: Analyser) -> None:
    raw = (
        HEAD.format("with attachment") + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        "Content-Type: application/octet-stream; name=a.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + "QUJD" * 50_000 + "\r\n--b--\r\n"
    ).encode()
    lean = await analyser.analyse(raw, attachment_data=False)
    assert lean.mail is not None
    assert lean.mail.tree is None
    assert lean.mail.attachments[0].size == 150_000
    assert lean.mail.attachments[0].data == b""
    full = await analyser.analyse(raw)
    assert full.mail is not None
    assert full.mail.attachments[0].data == b"ABC" * 50_000


@pytest.mark.timeout(60)
async def test_mail_over_the_size_cap_is_refused_before_any_worker_starts() -> None:
    pool = Analyser(SIGNER, budget_s=1.0)
    try:
        others = _workers()
        result = await pool.analyse(b"Subject: big\r\n\r\n" + b"x" * MAX_MAIL_BYTES)
        assert result.mail is None
        assert "limit" in result.rejected
        assert _workers() == others
    finally:
        pool.close()


def test_analyse_once_has_the_same_budget() -> None:
    assert analyse_once(ordinary(), signer=SIGNER, budget_s=5.0).mail is not None
    with pytest.raises(TooSlow):
        analyse_once(SLOW, signer=SIGNER, budget_s=1.0, worker_module=SPINNING)


def test_shared_analyser_is_one_per_signer_and_reads_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTROOM_PARSE_BUDGET_S", "3.5")
    same = MessageIdSigner("b" * 40, "example.test")
    assert shared_analyser(SIGNER) is shared_analyser(same)
    assert shared_analyser(SIGNER).budget_s == 3.5
    assert shared_analyser(SIGNER).workers == 1


@pytest.mark.timeout(60)
def test_postroom_parse_reports_a_mail_over_the_budget() -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [str(POSTROOM), "parse", "-"],
        input=LARGE,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "POSTROOM_PARSE_BUDGET_S": "0.05"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rejected"].startswith("too_slow")
    assert time.perf_counter() - started < 30


def test_a_frame_crosses_a_real_pipe_whole_and_a_request_keeps_its_parts_apart() -> None:
    reading, writing = os.pipe()
    with open(reading, "rb", buffering=0) as source, open(writing, "wb", buffering=0) as sink:
        write_frame(sink, b"\x01\x00", b"mail")
        assert os.read(reading, 100) == (6).to_bytes(8, "big") + b"\x01\x00mail"  # one frame
        write_frame(sink, b"\x01\x00", b"mail")
        assert read_request(source) == (b"\x01\x00", b"mail")
        write_frame(sink, b"ready")
        assert read_frame(source) == b"ready"
        # More than a pipe holds: the writer waits for the reader, part after part.
        big = os.urandom(3 * 1024 * 1024)
        writer = threading.Thread(target=write_frame, args=(sink, b"\x00\x01", big))
        writer.start()
        assert read_request(source) == (b"\x00\x01", big)
        writer.join()
    reading, writing = os.pipe()
    os.close(writing)  # the worker (or the service) is gone
    with open(reading, "rb", buffering=0) as ended, pytest.raises(EOFError):
        read_frame(ended)
