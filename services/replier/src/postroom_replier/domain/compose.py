"""Composing the auto-reply: a pure function from item, account and inbound mail to a message.

Everything copied from the inbound mail into a header goes through `clean_header_value`
(no CR/LF, no header injection); the loop-safety headers of DESIGN.md §6 are always set.
"""

from email.message import EmailMessage
from email.utils import formataddr, formatdate

from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.mail.tokens import format_token, subject_with_token
from postroom_shared.models import EmailAccount, ItemType

__all__ = ["LOOP_HEADER", "compose_auto_reply"]

LOOP_HEADER = "X-Postroom-Loop"
_MAX_REFERENCES = 20

_BODY = """Hello{name},

thank you for your message. We have recorded it as {token}:

    {title}

To add anything, just reply to this mail and keep {token} in the subject.

--
{account}
This is an automatic reply.
"""


def _references(inbound: MessageRefV1) -> list[str]:
    chain = [*inbound.references, inbound.message_id] if inbound.message_id else []
    return [clean_header_value(mid, max_length=250) for mid in chain[-_MAX_REFERENCES:]]


def compose_auto_reply(
    *,
    account: EmailAccount,
    item: ItemRefV1,
    inbound: MessageRefV1,
    recipient: str,
    message_id: str,
    instance: str,
) -> EmailMessage:
    item_type = ItemType(item.item_type)
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header_value(account.name, max_length=100), account.address))
    msg["To"] = recipient
    msg["Subject"] = subject_with_token(
        clean_header_value(inbound.subject, max_length=200) or item.title, item_type, item.number
    )
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    references = _references(inbound)
    if references:
        msg["In-Reply-To"] = references[-1]
        msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg[LOOP_HEADER] = instance
    name = inbound.sender.name if inbound.sender and inbound.sender.name else ""
    msg.set_content(
        _BODY.format(
            name=f" {clean_header_value(name, max_length=100)}" if name else "",
            token=format_token(item_type, item.number),
            title=clean_header_value(item.title, max_length=250),
            account=account.name,
        )
    )
    return msg
