"""Mailing a reply the team added to an item (`item.updated.v1` with "reply_added").

The item's owner (the converter) stored the reply on the thread under `thread_key`, with the
signed Message-ID, In-Reply-To/References and subject it chose; the replier only mails it: From
the account's address, the team's text inside the account's team-reply template, the
attachments from the blob store, one mail per recipient, each once (ledger key (item,
"team_reply:<thread key>", recipient)). A team reply is a person's mail: no automatic-mail
headers and no rate limits, but a recipient whose address bounced before is named in a warning
(a human asked for this mail, so it goes out).

The thread already holds the reply (the owner wrote it before it published the event), so no
`item.record_sent_mail.v1` follows the send: the owner keys the reply by its command, and a
second entry for the same Message-ID must not appear (docs/decisions.md, item ownership).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from postroom_replier.delivery import Delivery
from postroom_replier.domain.compose import Attachment, compose_team_reply
from postroom_replier.domain.templates import Rendered, context, text_as_html
from postroom_replier.people import actor_name, bounced_addresses
from postroom_replier.reports import Reports
from postroom_replier.store import ReplierStore
from postroom_shared.contracts import ItemUpdatedV1
from postroom_shared.logs import get_logger
from postroom_shared.models import EmailAccount, LedgerEntry, ThreadMessage

__all__ = ["REASON", "SentReply", "TeamReplies", "ledger_reason"]

REASON = "team_reply"
log = get_logger(__name__)


def ledger_reason(thread_key: str) -> str:
    """The ledger's reason for the mails of the team reply stored under `thread_key` (one entry
    per recipient); the API reads each mail's delivery state by it."""
    return f"{REASON}:{thread_key}"


Render = Callable[[EmailAccount, ItemUpdatedV1, dict[str, object], str], Awaitable[Rendered]]


@dataclass(frozen=True)
class SentReply:
    recipients: tuple[str, ...]
    said: dict[str, str]  # the reply's values for the notification templates (`reply.*`)


@dataclass
class TeamReplies:
    store: ReplierStore
    delivery: Delivery
    reports: Reports
    render: Render  # (account, event, template values, recipient) -> the text
    instance: str

    async def send(self, event: ItemUpdatedV1, account: EmailAccount) -> SentReply:
        """Mail the reply `event` names to each of its recipients once; whom it is meant for
        (they hear of it by this mail, not by a notification) and what it says."""
        reply = await self._entry(event)
        if reply is None:
            return SentReply((), {})
        recipients = tuple(dict.fromkeys(p.address.lower() for p in [*reply.to, *reply.cc]))
        for address, note in (await bounced_addresses(self.store, recipients)).items():
            log.warning("team reply to a bounced address", recipient=address, bounce=note)
            await self.reports.noted(event, "team_reply", address, f"bounced_address: {note}")
        attachments = await self._attachments(reply)
        said = {
            "subject": reply.subject,
            "text": reply.text,
            "html": reply.html or "",
            "text_html": text_as_html(reply.text),
            "to": ", ".join(recipients),
        }
        change = {"event": "team_reply", "actor": actor_name(event.actor)}
        values = context(event.item, account, None, change=change, reply=said)
        for recipient in recipients:
            mail = compose_team_reply(
                account=account,
                item=event.item,
                reply=reply,
                recipient=recipient,
                instance=self.instance,
                rendered=await self.render(account, event, values, recipient),
                attachments=attachments,
            )
            claim = LedgerEntry(
                item_id=event.item.item_id,
                reason=ledger_reason(reply.key),
                recipient=recipient,
                message_id=reply.message_id,
            )
            outcome = await self.delivery.deliver(claim, mail, "team_reply", account.id)
            await self.reports.outcome(event, event.item.item_id, claim, outcome, "team_reply")
        return SentReply(recipients, said)

    async def _entry(self, event: ItemUpdatedV1) -> ThreadMessage | None:
        for message in await self.store.list_messages(event.item.item_id):
            if message.key == event.thread_key and message.direction == "out":
                return message
        log.warning("team reply not on the thread: nothing to mail", thread_key=event.thread_key)
        return None

    async def _attachments(self, reply: ThreadMessage) -> tuple[Attachment, ...]:
        files = []
        for file in reply.attachments:  # KeyError for a missing blob: retried, then parked
            data = await self.store.get_blob(file.blob_ref)
            files.append(Attachment(file.filename, file.content_type, data))
        return tuple(files)
