"""Composing the auto-reply: a pure function from item, account and inbound mail to a message.

Everything copied from the inbound mail into a header goes through `clean_header_value`
(no CR/LF, no header injection); the loop-safety headers of DESIGN.md §6 are always set.
"""

from email.message import EmailMessage
from email.utils import formataddr, formatdate

from postroom_replier.domain.templates import Rendered
from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.mail.tokens import subject_with_token
from postroom_shared.models import EmailAccount, ItemType

__all__ = ["LOOP_HEADER", "compose_auto_reply"]

LOOP_HEADER = "X-Postroom-Loop"
_MAX_REFERENCES = 20


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
    rendered: Rendered,
    auto_submitted: str = "auto-replied",
) -> EmailMessage:
    """The auto-reply; `rendered` is the account's template rendered for this mail."""
    item_type = ItemType(item.item_type)
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header_value(account.name, max_length=100), account.address))
    msg["To"] = recipient
    msg["Subject"] = subject_with_token(
        clean_header_value(rendered.subject, max_length=300) or item.title, item_type, item.number
    )
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    references = _references(inbound)
    if references:
        msg["In-Reply-To"] = references[-1]
        msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = auto_submitted  # auto-generated for notifications
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg[LOOP_HEADER] = instance
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    return msg
