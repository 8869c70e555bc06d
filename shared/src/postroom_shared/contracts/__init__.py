"""Versioned contracts: the only shapes that travel between services.

Events are facts, frozen pydantic models named after what happened, with the version in both
the class name and the `type` literal (`events.py`). Commands are requests to the one owner of
what they change, named in the imperative (`item.record_sent_mail.v1`, `item.assign.v1`), with
a `command_id` the caller chooses so that asking twice changes things once (`commands.py`;
docs/decisions.md, "One owner for the item"). Within a version we only ever add optional
fields, and readers ignore fields they do not know (`extra="ignore"`), so producers and
consumers can be upgraded independently. `tests/contract/` snapshots each JSON schema so that
a breaking edit fails loudly. Import every name from here: the modules are the package's rooms.
"""

from postroom_shared.contracts.commands import (
    COMMAND_CONTRACTS,
    ITEM_COMMANDS,
    AddNoteV1,
    AddReplyV1,
    AssignV1,
    ChangeStatusV1,
    ItemCommand,
    ItemCommandEnvelope,
    RecordSentMailV1,
    SetFieldsV1,
    SetNotifyV1,
)
from postroom_shared.contracts.envelope import (
    EVENT_NAMESPACE,
    CommandEnvelope,
    EventEnvelope,
    MailKind,
    RawMail,
    deterministic_event_id,
)
from postroom_shared.contracts.events import (
    AccountStateV1,
    Event,
    ItemChange,
    ItemCommandRejectedV1,
    ItemCreatedV1,
    ItemUpdatedV1,
    MailIgnoredV1,
    MailQuarantinedV1,
    MailReceivedV1,
    ReplyFailedV1,
    ReplySentV1,
    ReplySuppressedV1,
)
from postroom_shared.contracts.refs import (
    ActorV1,
    AddressV1,
    AttachmentRefV1,
    ClassificationV1,
    ItemRefV1,
    MessageRefV1,
    item_ref,
)

__all__ = [
    "COMMAND_CONTRACTS",
    "EVENT_NAMESPACE",
    "ITEM_COMMANDS",
    "AccountStateV1",
    "ActorV1",
    "AddNoteV1",
    "AddReplyV1",
    "AddressV1",
    "AssignV1",
    "AttachmentRefV1",
    "ChangeStatusV1",
    "ClassificationV1",
    "CommandEnvelope",
    "Event",
    "EventEnvelope",
    "ItemChange",
    "ItemCommand",
    "ItemCommandEnvelope",
    "ItemCommandRejectedV1",
    "ItemCreatedV1",
    "ItemRefV1",
    "ItemUpdatedV1",
    "MailIgnoredV1",
    "MailKind",
    "MailQuarantinedV1",
    "MailReceivedV1",
    "MessageRefV1",
    "RawMail",
    "RecordSentMailV1",
    "ReplyFailedV1",
    "ReplySentV1",
    "ReplySuppressedV1",
    "SetFieldsV1",
    "SetNotifyV1",
    "deterministic_event_id",
    "item_ref",
]
