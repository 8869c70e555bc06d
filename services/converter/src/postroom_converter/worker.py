"""The analysis worker program (`python -m postroom_converter.worker`); its parent side is
`worker_process.py`.

A process of its own so that a deadline can stop it (a thread cannot be stopped). It is started
like a new program (no `fork` of the service and its threads, no `multiprocessing` re-import of
the caller's main script), imports the analysis once, then answers one request at a time on its
standard streams until stdin closes (the service stopped or died):

    service -> worker   frame(pickled signer), once; then per mail frame(2 option bytes + mail)
    worker -> service   frame(b"ready"), once;    then per mail frame(pickled (ok, answer))

A frame is an 8-byte big-endian length and that many bytes. `answer` is what
`analysis.analyse_apart` returns, (`Analysis`, (kind, reasons)), or, when the analysis raised (a
bug on some input), the error's text. The worker imports neither pydantic nor the models: the
service builds the classification's model (`worker_process.py`), and the worker starts faster.

Per mail this hop is two system calls each way and no copy of the mail: a frame goes out in one
`writev` of its parts, and is read as its length, then its body in one `read` (the parent
widens both pipes, `worker_process.py`, so a whole mail or answer fits). The worker reads a
request's option bytes with its length, so the mail itself is never sliced out of a frame.
"""

import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import IO, Any

__all__ = ["READY", "main", "read_frame", "read_request", "write_frame"]

READY = b"ready"
_LENGTH = 8
_OPTIONS = 2  # a request's option bytes, read together with its length


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes from a stream's descriptor (no buffering of its own); EOFError when it
    ends first. One `read` when they are all there: then the bytes are not copied again."""
    fd = stream.fileno()
    chunk = os.read(fd, size)
    if len(chunk) == size:
        return chunk
    chunks, got = [chunk], len(chunk)
    while got < size:
        if not chunk:
            raise EOFError(f"stream ended after {got} of {size} bytes")
        chunk = os.read(fd, size - got)
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream: IO[bytes]) -> bytes:
    return read_exactly(stream, int.from_bytes(read_exactly(stream, _LENGTH), "big"))


def read_request(stream: IO[bytes]) -> tuple[bytes, bytes]:
    """A request frame as (option bytes, mail), the mail read on its own (not sliced out)."""
    head = read_exactly(stream, _LENGTH + _OPTIONS)
    size = int.from_bytes(head[:_LENGTH], "big") - _OPTIONS
    if size < 0:
        raise EOFError("a request without its option bytes")
    return head[_LENGTH:], read_exactly(stream, size)


def write_frame(stream: IO[bytes], *parts: bytes) -> None:
    """One frame made of `parts`, written to the stream's descriptor with `writev`: one system
    call (the reader wakes once per frame) and no copy of the parts into one buffer."""
    head = sum(len(p) for p in parts).to_bytes(_LENGTH, "big")
    chunks = [memoryview(c) for c in (head, *parts) if c]
    fd = stream.fileno()
    while chunks:
        written = os.writev(fd, chunks)  # all of it unless the pipe is full: then the rest
        while chunks and written >= len(chunks[0]):
            written -= len(chunks[0])
            chunks.pop(0)
        if chunks:
            chunks[0] = chunks[0][written:]


def main(analyse: Callable[..., Any] | None = None) -> None:
    """Serve requests until stdin closes; `analyse` replaces the analysis (tests give one
    that never ends, to exercise the deadline now that no real mail runs away)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service; it stops us
    requests = open(0, "rb", buffering=0, closefd=False)  # noqa: SIM115  # for the whole life
    answers = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers

    if analyse is None:
        import nh3  # noqa: F401  # HTML mail needs it: loaded before the first one, not with it

        from postroom_converter import analysis  # the slow part of starting

        analyse = analysis.analyse_apart

    try:
        signer = pickle.loads(read_frame(requests))  # noqa: S301  # from the service that started us
        write_frame(answers, READY)
        while True:
            options, raw = read_request(requests)
            try:
                result = analyse(
                    raw,
                    signer=signer,
                    attachment_data=options[0] == 1,
                    every_bounce=options[1] == 1,
                )
                answer = pickle.dumps((True, result), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # the service retries, then quarantines the mail
                answer = pickle.dumps((False, f"{type(exc).__name__}: {exc}"[:500]))
            write_frame(answers, answer)
    except (EOFError, BrokenPipeError):
        return  # the service closed its end


if __name__ == "__main__":
    main()
