"""One owner for the item, the pure parts: the replier's request, the converter's thread entry,
the command's place in the topology and in the AsyncAPI document."""

from datetime import UTC, datetime

from postroom_api.routes.asyncapi import asyncapi_document
from postroom_converter.commands import sent_mail_message
from postroom_replier.domain.sent_mail import record_sent_mail
from postroom_shared.contracts import RecordSentMailV1
from postroom_shared.deadletters import consumer_queues
from postroom_shared.models import Item, ItemType
from postroom_shared.retry import RetryPolicy
from postroom_shared.topology import topology_queue_names
from tests import factories

SENT_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
QUEUE = "converter.item.record_sent_mail.v1"
ITEM = Item(
    id="it_1", item_type=ItemType.INCIDENT, number=1, project="S", account_id="acc1", title="P"
)


def _command(message_id: str = "<a@x.test>", n: int = 1) -> RecordSentMailV1:
    return record_sent_mail(
        event=factories.item_created(ITEM, n, "customer@example.test"),
        account=factories.account(),
        recipient="customer@example.test",
        kind="notification",
        message_id=message_id,
        subject="Re: [INC-1] P",
        sent_at=SENT_AT,
    )


def test_the_same_sent_mail_is_the_same_command() -> None:
    first, again = _command(), _command(n=2)  # another event about the same sent mail
    assert first.command_id == again.command_id
    assert _command("<b@x.test>").command_id != first.command_id
    assert first.type == "item.record_sent_mail.v1" and first.source == "replier"


def test_the_command_says_who_sent_what_to_whom_in_answer_to_which_mail() -> None:
    command = _command()
    event = factories.item_created(ITEM, 1, "customer@example.test")
    assert command.item_id == "it_1" and command.account_id == "acc1"
    assert command.sender.address == "support@example.test" and command.sender.name == "Support"
    assert [to.address for to in command.to] == ["customer@example.test"]
    assert command.in_reply_to[0].endswith("@x.test>") and command.kind == "notification"
    assert command.correlation_id.startswith("acc1/INBOX/5/1-")
    assert event.message.message_id.startswith("<acc1.INBOX.5.1-")


def test_the_thread_entry_is_keyed_by_the_sent_message_id() -> None:
    command = _command()
    message = sent_mail_message(command)
    assert message.key == "out:<a@x.test>" and message.direction == "out"
    assert message.item_id == "it_1" and message.account_id == "acc1"
    assert message.kind == "notification" and message.created_at == SENT_AT
    assert message.sender is not None and message.sender.address == "support@example.test"
    assert [p.address for p in message.to] == ["customer@example.test"]
    assert message.in_reply_to == list(command.in_reply_to)
    assert message.subject == "Re: [INC-1] P" and message.blob_ref is None


def test_the_command_queue_has_a_retry_path_and_a_dlq_like_every_consumer_queue() -> None:
    names = topology_queue_names(RetryPolicy(attempts=3, backoff_s=(1, 5)))
    assert [n for n in names if n.startswith(QUEUE)] == [
        QUEUE,
        f"{QUEUE}.retry.1s",
        f"{QUEUE}.retry.5s",
        f"{QUEUE}.dlq",
    ]
    assert QUEUE in consumer_queues()  # `postroom dlq` and /v1/deadletters reach it


def test_asyncapi_lists_the_command_on_the_commands_exchange() -> None:
    channels = asyncapi_document()["channels"]
    publish = channels["item.record_sent_mail.v1:publish"]
    exchange = publish["bindings"]["amqp"]["exchange"]
    assert exchange["name"] == "postroom.commands" and exchange["type"] == "direct"
    consume = channels[f"{QUEUE}:consume"]
    assert consume["bindings"]["amqp"]["queue"]["name"] == QUEUE
