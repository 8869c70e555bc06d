"""The error tree every service uses to decide between retrying and giving up.

    PostroomError
    ├── TransientError      retry later (network down, broker unavailable, SMTP 4xx)
    └── PermanentError      retrying cannot help (bad config, malformed input, SMTP 5xx)
        └── ConfigError     settings or stored configuration are invalid

Consumers nack-and-requeue on TransientError (bounded by the queue's delivery limit, then the
dead-letter queue) and quarantine or record PermanentError without retrying.
"""

__all__ = ["ConfigError", "PermanentError", "PostroomError", "TransientError"]


class PostroomError(Exception):
    """Base of every error Postroom raises on purpose."""


class TransientError(PostroomError):
    """The operation may succeed if tried again later."""


class PermanentError(PostroomError):
    """The operation will fail the same way every time."""


class ConfigError(PermanentError):
    """Settings or stored configuration are missing or invalid."""
