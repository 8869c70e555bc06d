"""An analysis worker for the budget tests (`python -m tests.spinning_worker`): the real one,
except that a mail with the subject `spin` keeps the CPU busy for ever, as a backtracking
pattern did before every pattern over mail content was made linear. The deadline, the kill and
the replacement of a worker are thereby tested on a runaway that no real mail produces now."""

from typing import Any

from postroom_converter import worker
from postroom_converter.analysis import Analysis, analyse_apart
from postroom_converter.domain.classify import Kind

SPIN = b"\r\nSubject: spin\r\n"


def spinning(raw: bytes, **options: Any) -> tuple[Analysis, Kind | None]:
    if SPIN in raw[:4096]:
        while True:  # pure CPU, holding the GIL: nothing but a kill stops it
            pass
    return analyse_apart(raw, **options)


if __name__ == "__main__":
    worker.main(spinning)
