"""One analysis worker process, seen from the process that started it.

Starts the worker program (`worker.py`) as a new program, hands it the signer, then speaks its
frames: a request is the raw mail, the answer a pickled `Analysis` (its classification's model
made here, so the worker needs no pydantic). `budget.py` puts deadlines
and a pool around these; this module only knows how to start, ask, and stop one process.

Both pipes are widened from the kernel's 64 KB to 1 MB (Linux; elsewhere, or over the user's
pipe quota, they stay as they are): a mail with a 100 KB attachment then goes to the worker in
one write that never waits for the worker to read, and its answer comes back in one read. Writes
only block when a frame is larger than the pipe, so `budget.py` sends those from a thread.
"""

import contextlib
import fcntl
import pickle
import select
import subprocess
import sys
import threading
from typing import IO

from postroom_converter.analysis import Analysis, classified
from postroom_converter.worker import READY, read_frame, write_frame
from postroom_shared.mail.msgid import MessageIdSigner

__all__ = ["WORKER_MODULE", "AnalysisFailed", "WorkerProcess", "options"]

WORKER_MODULE = "postroom_converter.worker"
_START_S = 120.0  # a worker imports the analysis before it is ready (~0.5 s; slow machines)
_PIPE_BYTES = 1024 * 1024  # the default most for a user's pipe (/proc/sys/fs/pipe-max-size)


class AnalysisFailed(RuntimeError):
    """The worker raised or died (a bug, or killed from outside): worth a retry."""


def options(attachment_data: bool, every_bounce: bool) -> bytes:
    return bytes((int(attachment_data), int(every_bounce)))


def _widen(pipe: IO[bytes]) -> int:
    """Makes `pipe` hold up to 1 MB if the system lets it; returns what it holds."""
    fd = pipe.fileno()
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or over the pipe quota
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    try:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except (OSError, AttributeError):
        return 64 * 1024  # what a pipe holds on Linux by default, and more than elsewhere


class WorkerProcess:
    """One worker process; blocks until it is ready (start it off the event loop)."""

    def __init__(self, signer: MessageIdSigner | None, module: str = WORKER_MODULE) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.requests: IO[bytes] = self.process.stdin
        self.answers: IO[bytes] = self.process.stdout
        # Bytes a frame may have and still be written without waiting for the reader (the
        # pipe is empty between mails: the worker reads a request whole before it answers).
        self.pipe_bytes = min(_widen(self.requests), _widen(self.answers))
        try:
            write_frame(self.requests, pickle.dumps(signer))  # never on the command line
            if not self.wait(_START_S) or read_frame(self.answers) != READY:
                raise AnalysisFailed(f"the analysis worker did not start in {_START_S:g} s")
        except (OSError, EOFError) as exc:
            self.stop()
            raise AnalysisFailed(f"the analysis worker did not start: {exc!r}") from exc
        except BaseException:
            self.stop()
            raise

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float) -> bool:
        """True once an answer (or the end of the stream) can be read."""
        poller = select.poll()  # (not select(): descriptors above 1023 are fine)
        poller.register(self.answers, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(timeout * 1000))

    def send(self, options: bytes, raw: bytes) -> None:
        try:
            write_frame(self.requests, options, raw)
        except OSError as exc:
            raise AnalysisFailed(f"the analysis worker is gone: {exc!r}") from exc

    def answer(self) -> Analysis:
        try:
            ok, value = pickle.loads(read_frame(self.answers))  # noqa: S301  # our worker's
        except (EOFError, OSError) as exc:
            raise AnalysisFailed(
                f"the analysis worker died (exit code {self.process.poll()})"
            ) from exc
        if not ok or not isinstance(value, tuple) or not isinstance(value[0], Analysis):
            raise AnalysisFailed(f"the analysis failed: {value}")
        analysis, kind = value
        return classified(analysis, kind)

    def kill(self) -> None:
        """Stop at once (SIGKILL) and reap it in the background."""
        if self.process.poll() is None:
            self.process.kill()
        for stream in (self.requests, self.answers):
            stream.close()
        threading.Thread(target=self.process.wait, name="reap-analysis", daemon=True).start()

    def stop(self) -> None:
        self.kill()
        self.process.wait()
