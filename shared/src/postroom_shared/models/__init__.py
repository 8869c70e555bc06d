"""The stored shapes: email accounts, SMTP settings, items and their thread messages, people.

These are what the store ports read and write and what the API shows. Secrets are kept here
only in encrypted form (`*_enc`, see `secretbox`); nothing in this package ever holds a clear
password. Import every name from here: the modules are the package's rooms (`accounts`
configuration, `items` work, `ops` operations state).
"""

from postroom_shared.models.accounts import (
    DEFAULT_FIELD_MAPPING,
    MAIL_BYTES_CEILING,
    AutoReplySettings,
    EmailAccount,
    ItemFromMail,
    MailboxSettings,
    MailBytesLimit,
    MailSource,
    NotificationTemplate,
    OAuthClient,
    OAuthSettings,
    PollIntervalS,
    Provider,
    ReplyActions,
    SmtpAuth,
    SmtpSettings,
    Workflow,
    WorkflowStep,
    mail_size_limit,
)
from postroom_shared.models.base import (
    TOKEN_PREFIXES,
    AfterRead,
    ItemType,
    Security,
    utcnow,
)
from postroom_shared.models.items import (
    BounceMark,
    Item,
    Party,
    Person,
    StoredAttachment,
    ThreadMessage,
)
from postroom_shared.models.ops import (
    AccountState,
    ApiKey,
    ApiScope,
    Checkpoint,
    LedgerEntry,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
)

__all__ = [
    "DEFAULT_FIELD_MAPPING",
    "MAIL_BYTES_CEILING",
    "TOKEN_PREFIXES",
    "AccountState",
    "AfterRead",
    "ApiKey",
    "ApiScope",
    "AutoReplySettings",
    "BounceMark",
    "Checkpoint",
    "EmailAccount",
    "Item",
    "ItemFromMail",
    "ItemType",
    "LedgerEntry",
    "MailBytesLimit",
    "MailSource",
    "MailboxSettings",
    "NotificationTemplate",
    "OAuthClient",
    "OAuthSettings",
    "Party",
    "Person",
    "PollIntervalS",
    "ProcessingLogEntry",
    "Provider",
    "QuarantineEntry",
    "ReplyActions",
    "Security",
    "SendRecord",
    "ServiceHeartbeat",
    "SmtpAuth",
    "SmtpSettings",
    "StoredAttachment",
    "ThreadMessage",
    "Workflow",
    "WorkflowStep",
    "mail_size_limit",
    "utcnow",
]
