"""The pure rules of the API's item write routes: If-Match, command ids from an
Idempotency-Key, which commands a PATCH becomes and in which order, the notification diff; and
the AsyncAPI document naming every item command (the broker door to the same write path)."""

import uuid

import pytest

from postroom_api.auth import Principal
from postroom_api.item_work import (
    Ids,
    Precondition,
    actor_of,
    etag,
    notify_command,
    patch_commands,
    precondition,
)
from postroom_api.routes.asyncapi import asyncapi_document
from postroom_api.schemas.item_work import ItemPatch, NotifyIn
from postroom_shared.contracts import ITEM_COMMANDS, AssignV1, ChangeStatusV1, SetFieldsV1

ACTOR = actor_of(Principal("key_1", "sync", frozenset({"agent"})))


def test_if_match_and_body_version() -> None:
    assert precondition(None, None, 4) == Precondition(None)
    assert precondition(None, 3, 4) == Precondition(3)  # checked by the owner: 409
    assert precondition("*", None, 4) == Precondition(None)
    assert precondition(etag(4), None, 4) == Precondition(4, from_header=True)
    assert precondition('W/"v4"', 4, 4).mismatch_status == 412
    assert precondition('"v2", "v4"', None, 4).expected == 4
    assert Precondition(3).mismatch_status == 409
    for stale in ('"v3"', '"nope"', "v4", '"v04"', ""):
        with pytest.raises(ValueError, match="ETag"):
            precondition(stale, None, 4)
    with pytest.raises(ValueError, match="body version 3"):
        precondition('"v4"', 3, 4)


def test_command_ids_come_from_the_idempotency_key_route_and_command() -> None:
    ids = Ids("k-1", "POST /v1/items/it_1/replies")
    first = ids.for_command("item.add_reply.v1")
    assert first == Ids("k-1", "POST /v1/items/it_1/replies").for_command("item.add_reply.v1")
    assert first != Ids("k-1", "POST /v1/items/it_2/replies").for_command("item.add_reply.v1")
    assert first != Ids("k-2", "POST /v1/items/it_1/replies").for_command("item.add_reply.v1")
    assert first != ids.for_command("item.add_note.v1")
    assert first.version == 5
    fresh = Ids(None, "POST /v1/items/it_1/replies")
    assert fresh.for_command("x") != fresh.for_command("x")


def test_patch_becomes_commands_in_a_fixed_order() -> None:
    ids = Ids("k", "PATCH /v1/items/it_1")
    patch = ItemPatch.model_validate(
        {"fields": {"region": None}, "assignee_id": "us_1", "workflow_step": "done"}
    )
    commands = patch_commands("it_1", patch, ACTOR, ids)
    assert [type(c) for c in commands] == [ChangeStatusV1, AssignV1, SetFieldsV1]
    status, assign, fields = commands
    assert isinstance(status, ChangeStatusV1) and status.workflow_step == "done"
    assert status.status is None and status.actor == ACTOR and status.source == "api"
    assert isinstance(assign, AssignV1) and assign.assignee_id == "us_1"
    assert isinstance(fields, SetFieldsV1) and fields.priority is None
    assert fields.fields == {"region": None}
    assert all(c.item_id == "it_1" and c.expected_version is None for c in commands)
    assert len({c.command_id for c in commands}) == 3
    unassign = patch_commands("it_1", ItemPatch.model_validate({"assignee_id": None}), ACTOR, ids)
    assert isinstance(unassign[0], AssignV1) and unassign[0].assignee_id is None
    clear = patch_commands("it_1", ItemPatch.model_validate({"priority": None}), ACTOR, ids)
    assert isinstance(clear[0], SetFieldsV1) and clear[0].priority == ""
    assert patch_commands("it_1", ItemPatch.model_validate({}), ACTOR, ids) == []


def test_the_notification_list_is_diffed_against_the_stored_one() -> None:
    ids = Ids(None, "PUT /v1/items/it_1/notify")
    wanted = NotifyIn.model_validate(
        {"addresses": ["B@example.test", "c@example.test", "c@example.test"]}
    )
    command = notify_command("it_1", ["a@example.test", "b@example.test"], wanted, ACTOR, ids)
    assert command.add == ("c@example.test",)
    assert command.remove == ("a@example.test",)
    assert isinstance(command.command_id, uuid.UUID)
    emptied = notify_command("it_1", ["a@example.test"], NotifyIn(addresses=[]), ACTOR, ids)
    assert (emptied.add, emptied.remove) == ((), ("a@example.test",))


def test_the_actor_is_the_api_key() -> None:
    assert (ACTOR.kind, ACTOR.id, ACTOR.name) == ("api_key", "key_1", "sync")


def test_asyncapi_lists_every_item_command_and_the_rejection() -> None:
    channels = asyncapi_document()["channels"]
    for command in ITEM_COMMANDS:
        kind = command.model_fields["type"].default
        publish = channels[f"{kind}:publish"]
        exchange = publish["bindings"]["amqp"]["exchange"]
        assert (exchange["name"], exchange["type"]) == ("postroom.commands", "direct"), kind
        queue = f"converter.{kind}"
        consume = channels[f"{queue}:consume"]
        assert consume["bindings"]["amqp"]["queue"]["name"] == queue
    rejected = channels["item.command_rejected.v1:publish"]["bindings"]["amqp"]["exchange"]
    assert rejected["name"] == "postroom.events"
    assert "commands" in asyncapi_document()["info"]["description"]
