"""Structured logs: one JSON object per line on stderr, with the mail key and correlation id.

`bind(mail_key=..., correlation_id=...)` puts values into a context variable, so every line
logged while handling one mail carries them without passing them through every call.
"""

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = ["bind", "configure_logging", "get_logger"]

_context: contextvars.ContextVar[tuple[tuple[str, Any], ...]] = contextvars.ContextVar(
    "postroom_log", default=()
)
_service = "postroom"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": _service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(dict(_context.get()))
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours and the libraries') through the JSON formatter."""
    global _service
    _service = service
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiormq", "aio_pika", "pymongo", "faststream.access", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line written inside the block."""
    token = _context.set((*_context.get(), *fields.items()))
    try:
        yield
    finally:
        _context.reset(token)


class _Logger(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k not in _STD_KWARGS}
        if fields:
            kwargs["extra"] = {"fields": fields}
        return msg, kwargs


_STD_KWARGS = {"exc_info", "stack_info", "stacklevel", "extra"}


def get_logger(name: str) -> _Logger:
    """A logger whose keyword arguments become JSON fields: `log.info("sent", to=addr)`."""
    return _Logger(logging.getLogger(name), {})
