"""The analysis worker program (`python -m postroom_converter.worker`); its parent side is
`worker_process.py`.

A process of its own so that a deadline can stop it (a thread cannot be stopped). It is started
like a new program (no `fork` of the service and its threads, no `multiprocessing` re-import of
the caller's main script), imports the analysis once, then answers one request at a time on its
standard streams until stdin closes (the service stopped or died):

    service -> worker   frame(pickled signer), once; then per mail frame(2 option bytes + mail)
    worker -> service   frame(b"ready"), once;    then per mail frame(pickled (ok, answer))

A frame is an 8-byte big-endian length and that many bytes. `answer` is an `Analysis` or, when
the analysis raised (a bug on some input), the error's text.
"""

import pickle
import signal
import sys
from collections.abc import Callable
from typing import IO, Any

__all__ = ["READY", "main", "read_frame", "write_frame"]

READY = b"ready"
_LENGTH = 8
_ONE_WRITE = 1024 * 1024  # frames up to this size are joined (a copy of at most 1 MB)


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes from an unbuffered stream; EOFError when it ends first."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = stream.readinto(view[got:])  # type: ignore[attr-defined]  # raw streams have it
        if not count:
            raise EOFError(f"stream ended after {got} of {size} bytes")
        got += count
    return bytes(buffer)


def read_frame(stream: IO[bytes]) -> bytes:
    return read_exactly(stream, int.from_bytes(read_exactly(stream, _LENGTH), "big"))


def write_frame(stream: IO[bytes], *parts: bytes) -> None:
    """One frame made of `parts`: up to `_ONE_WRITE` bytes in one system call; a larger frame
    part after part, so a big mail is not copied."""
    size = sum(len(p) for p in parts)
    head = size.to_bytes(_LENGTH, "big")
    # One write, not one per part: the reader wakes once per frame, not once per part.
    chunks = [b"".join((head, *parts))] if size <= _ONE_WRITE else [head, *parts]
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            written = stream.write(view)
            view = view[written or 0 :]
    stream.flush()


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

        analyse = analysis.analyse

    try:
        signer = pickle.loads(read_frame(requests))  # noqa: S301  # from the service that started us
        write_frame(answers, READY)
        while True:
            frame = read_frame(requests)
            try:
                result = analyse(
                    frame[2:],
                    signer=signer,
                    attachment_data=frame[0] == 1,
                    every_bounce=frame[1] == 1,
                )
                answer = pickle.dumps((True, result), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # the service retries, then quarantines the mail
                answer = pickle.dumps((False, f"{type(exc).__name__}: {exc}"[:500]))
            write_frame(answers, answer)
    except (EOFError, BrokenPipeError):
        return  # the service closed its end


if __name__ == "__main__":
    main()
