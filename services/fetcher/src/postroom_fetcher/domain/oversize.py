"""What the quarantine says about a mail kept by its header block only (over the size limit,
or unreadable): the reason text, and the sender and subject the replier's notice needs.
Pure, and never raising on malformed headers."""

import email.header
import email.utils
from email.parser import BytesHeaderParser
from email.policy import compat32

from postroom_shared.contracts import AddressV1
from postroom_shared.mail.headers import clean_header_value

__all__ = ["sender_and_subject", "too_large_reason"]


def too_large_reason(size: int, limit: int) -> str:
    return (
        f"mail of {size} bytes exceeds the account's size limit of {limit} bytes;"
        " it was not imported and stays in the mailbox; only its headers were kept here"
    )


def _decoded(value: str) -> str:
    try:
        parts = email.header.decode_header(value)
        text = "".join(
            part.decode(charset or "utf-8", "replace") if isinstance(part, bytes) else part
            for part, charset in parts
        )
    except (LookupError, ValueError):
        text = value
    return clean_header_value(text)


def sender_and_subject(headers: bytes) -> tuple[AddressV1 | None, str]:
    """From and Subject of a header block, decoded; never raises on malformed input."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(headers)
    subject = _decoded(str(parsed.get("Subject", "") or ""))
    name, address = email.utils.parseaddr(str(parsed.get("From", "") or ""))
    if "@" not in address:
        return None, subject
    return AddressV1(address=clean_header_value(address), name=_decoded(name)), subject
