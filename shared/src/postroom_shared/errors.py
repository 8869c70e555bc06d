"""The error tree every service uses to decide between retrying and giving up.

    PostroomError
    ├── TransientError      retry later (network down, broker unavailable, SMTP 4xx)
    └── PermanentError      retrying cannot help (bad config, malformed input, SMTP 5xx)
        ├── ConfigError     settings or stored configuration are invalid
        └── RejectedError   the owner refused a command: dead-lettered at once, with why

Consumers retry a failed message with backoff through delay queues, counted by their own
attempt header (`retry.py`), then quarantine it (the converter) or park it in the dead-letter
queue. A PermanentError skips the remaining backoff: the next try is the last one. Publishing
raises TransientError when the broker does not confirm in time or returns the message.
"""

__all__ = ["ConfigError", "PermanentError", "PostroomError", "RejectedError", "TransientError"]


class PostroomError(Exception):
    """Base of every error Postroom raises on purpose."""


class TransientError(PostroomError):
    """The operation may succeed if tried again later."""


class PermanentError(PostroomError):
    """The operation will fail the same way every time."""


class ConfigError(PermanentError):
    """Settings or stored configuration are missing or invalid."""


class RejectedError(PermanentError):
    """The owner refused a command as asked (unknown status, stale version, ...): no retry
    can change that, so the consumer parks it in its dead-letter queue at once, the reason in
    the `x-postroom-error` header."""
