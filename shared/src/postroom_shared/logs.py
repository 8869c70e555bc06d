"""Structured logs: one JSON object per line on stderr, with the mail key and correlation id.

`bind(mail_key=..., correlation_id=...)` puts values into a context variable, so every line
logged while handling one mail carries them without passing them through every call.

A line is written per unit of work (a mail converted, a reply sent, a command applied), so its
cost counts: `configure_logging` turns off what the standard library gathers for every record
and no line of ours shows (the caller's file and line, found by walking the stack; thread,
process and task names), as the logging HOWTO's "Optimization" section describes; the
formatter reuses one JSON encoder and the timestamp of the current second.
"""

import contextvars
import json
import logging
import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["bind", "configure_logging", "get_logger"]

_context: contextvars.ContextVar[tuple[tuple[str, Any], ...]] = contextvars.ContextVar(
    "postroom_log", default=()
)
_service = "postroom"
# json.dumps with options builds a new encoder per call
_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode


class _JsonFormatter(logging.Formatter):
    _second = -1
    _stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "service": _service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(_context.get())
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return _encode(line)

    def _timestamp(self, created: float) -> str:
        """`2026-12-04T19:05:24.123+00:00`, as `datetime.isoformat(timespec="milliseconds")`
        writes it; the part up to the second is made once a second."""
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int((created - second) * 1000):03d}+00:00"


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours and the libraries') through the JSON formatter."""
    global _service
    _service = service
    # What every LogRecord would otherwise gather and no line shows (logging HOWTO,
    # "Optimization"): the caller's frame, thread, process and asyncio task names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # 3.12+, not in typeshed yet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiormq", "aio_pika", "pymongo", "faststream.access", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class bind:  # used as a function: `with bind(...)`
    """Add `fields` to every log line written inside the block. (A class, not a
    @contextmanager generator: it is entered for every message consumed.)"""

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        self._token = _context.set((*_context.get(), *self._fields.items()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _context.reset(self._token)


class _Logger(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        if kwargs.keys() <= _STD_KWARGS:
            return msg, kwargs
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k not in _STD_KWARGS}
        kwargs["extra"] = {"fields": fields}
        return msg, kwargs


_STD_KWARGS = {"exc_info", "stack_info", "stacklevel", "extra"}


def get_logger(name: str) -> _Logger:
    """A logger whose keyword arguments become JSON fields: `log.info("sent", to=addr)`."""
    return _Logger(logging.getLogger(name), {})
