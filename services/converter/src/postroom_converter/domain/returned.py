"""The mail a bounce returns: its Message-IDs, so the bounce can be linked to its item, and its
addresses (its sender is never the one who bounced; its recipient is, when the report names
none).

Bounces carry the original as `message/rfc822` or `text/rfc822-headers` (RFC 3462), and many
non-standard bounces quote it inline; the Message-IDs found there are ours when Postroom's
mail bounced.
"""

import email
import email.policy
import re
from email.message import Message

__all__ = ["returned_headers", "returned_message_ids"]

_MSGID_RE = re.compile(r"^Message-ID:\s*(<[^<>\s]{1,900}>)", re.IGNORECASE | re.MULTILINE)
_MAX_SCAN = 256 * 1024


def returned_message_ids(tree: Message | None) -> tuple[str, ...]:
    """Message-IDs of returned originals inside a bounce (outermost first, no duplicates)."""
    if tree is None:
        return ()
    found: list[str] = []
    for part in tree.walk():
        content_type = part.get_content_type()
        if part is tree:
            continue
        if content_type == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                mid = str(inner[0].get("Message-ID") or "").strip()
                if mid:
                    found.append(mid)
        elif content_type in {"text/rfc822-headers", "text/plain"}:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload[:_MAX_SCAN].decode("utf-8", "replace")
                found.extend(_MSGID_RE.findall(text))
    if not found and not tree.is_multipart():
        payload = tree.get_payload(decode=True)
        if isinstance(payload, bytes):
            found.extend(_MSGID_RE.findall(payload[:_MAX_SCAN].decode("utf-8", "replace")))
    own = str(tree.get("Message-ID") or "").strip()
    return tuple(dict.fromkeys(mid for mid in found if mid != own))


def returned_headers(tree: Message | None, inline_copy: str) -> Message | None:
    """The headers of the returned mail (the first one returned): attached, or quoted inline in
    `inline_copy` (the text from the line that starts the copy)."""
    if tree is None:
        return None
    for part in tree.walk():
        content_type = part.get_content_type()
        inner = part.get_payload()
        if content_type == "message/rfc822" and isinstance(inner, list) and inner:
            if isinstance(inner[0], Message):
                return inner[0]
        elif content_type in {"text/rfc822-headers", "message/rfc822-headers"}:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                text = payload[:_MAX_SCAN].decode("utf-8", "replace")
                return email.message_from_string(text, policy=email.policy.compat32)
    if not inline_copy:
        return None
    copy = inline_copy[:_MAX_SCAN].replace("\r\n", "\n").partition("\n")[2].lstrip("\n")
    head = copy.partition("\n\n")[0]  # after its marker line, up to its body
    return email.message_from_string(head + "\n", policy=email.policy.compat32)
