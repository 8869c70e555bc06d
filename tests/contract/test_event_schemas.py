"""Snapshot of every event's and command's JSON schema: a breaking edit of a contract fails here.

Adding an optional field changes the snapshot too; review the diff and refresh with
`POSTROOM_UPDATE_SNAPSHOTS=1 make test`. Removing or retyping a field needs a new version
(`….v2`) instead.
"""

import json
import os
import uuid
from pathlib import Path

import pytest
from pydantic import BaseModel

from postroom_shared.contracts import (
    COMMAND_CONTRACTS,
    AccountStateV1,
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

SNAPSHOTS = Path(__file__).parent / "schemas"
EVENTS: list[type[BaseModel]] = [
    MailReceivedV1,
    ItemCreatedV1,
    ItemUpdatedV1,
    MailIgnoredV1,
    MailQuarantinedV1,
    AccountStateV1,
    ReplySentV1,
    ReplySuppressedV1,
    ReplyFailedV1,
    ItemCommandRejectedV1,
    # commands: their owner's queues read them, the same rules hold
    *COMMAND_CONTRACTS,
]


@pytest.mark.parametrize("model", EVENTS, ids=lambda m: m.__name__)
def test_schema_matches_snapshot(model: type[BaseModel]) -> None:
    event_type = model.model_fields["type"].default
    path = SNAPSHOTS / f"{event_type}.json"
    current = json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("POSTROOM_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(current)
    assert path.exists(), f"no snapshot for {event_type}: run with POSTROOM_UPDATE_SNAPSHOTS=1"
    assert current == path.read_text(), f"{event_type} changed: is it backwards compatible?"


def test_readers_ignore_unknown_fields() -> None:
    event = MailIgnoredV1(
        event_id=uuid.UUID("6f1d2a8e-53b1-4b7c-9a57-0c1f5e2f7d10"),
        source="t",
        correlation_id="k",
        account_id="a",
        mail_key="k",
        reason="r",
    )
    data = json.loads(event.model_dump_json())
    data["added_in_a_later_release"] = True
    assert MailIgnoredV1.model_validate(data) == event
