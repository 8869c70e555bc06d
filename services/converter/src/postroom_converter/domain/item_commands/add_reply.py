"""`item.add_reply.v1`: a reply from the team, put on the thread for the replier to mail.

The owner fixes everything that makes the reply thread back: a signed Message-ID (made by the
service, from the command id, so a repeated command makes the same one), In-Reply-To and
References to the item's last inbound mail, the item token in the subject. The thread key is
`out:<Message-ID>`, the key a sent mail is recorded under, so the replier's record of the
delivery lands on this entry instead of adding a second one. Recipients default to the
requester; they become participants, so their answers thread by token.
"""

from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    check_version,
    next_state,
)
from postroom_shared.contracts import AddReplyV1
from postroom_shared.mail.address import address_problem, normalize_address
from postroom_shared.mail.tokens import subject_with_token
from postroom_shared.models import Item, Party, ThreadMessage

__all__ = ["MAX_RECIPIENTS", "add_reply", "reply_key"]

MAX_RECIPIENTS = 50


def reply_key(message_id: str) -> str:
    return f"out:{message_id}"


def _recipients(item: Item, command: AddReplyV1) -> list[Party]:
    wanted = [Party(address=a.address, name=a.name) for a in command.to]
    if not wanted and item.requester is not None:
        wanted = [item.requester]
    if not wanted:
        raise CommandRejected(f"item {item.token} has no requester: name the recipients")
    if len(wanted) > MAX_RECIPIENTS:
        raise CommandRejected(f"a reply goes to at most {MAX_RECIPIENTS} recipients")
    parties: list[Party] = []
    for party in wanted:
        problem = address_problem(party.address)
        if problem is not None:
            raise CommandRejected(f"{party.address!r} is not a usable address: {problem}")
        parties.append(Party(address=normalize_address(party.address), name=party.name))
    return parties


def add_reply(item: Item, command: AddReplyV1, context: Context) -> Change:
    check_version(item, command)
    reply = context.reply
    if reply is None:
        raise CommandRejected(f"no account to send the reply from for item {item.token}")
    text = command.text.strip()
    if not text and not (command.html or "").strip():
        raise CommandRejected("a reply needs text")
    to = _recipients(item, command)
    inbound = reply.last_inbound
    in_reply_to = [inbound.message_id] if inbound and inbound.message_id else []
    references = [*(inbound.references if inbound else []), *in_reply_to][-20:]
    subject = subject_with_token(
        inbound.subject if inbound else item.title, item.item_type, item.number
    )
    message = ThreadMessage(
        key=reply_key(reply.message_id),
        item_id=item.id,
        account_id=item.account_id,
        direction="out",
        kind="team_reply",
        message_id=reply.message_id,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        sender=Party(address=reply.account.address, name=reply.account.name),
        to=to,
        date=context.now,
        text=text,
        html=command.html,
        attachments=list(reply.attachments),
        author_id=command.actor.id,
        created_at=context.now,
    )
    participants = [*item.participants]
    participants += [p.address for p in to if p.address not in participants]
    new = next_state(
        item, context.now, participants=participants, message_count=item.message_count + 1
    )
    return Change(new, ("reply_added",), message)
