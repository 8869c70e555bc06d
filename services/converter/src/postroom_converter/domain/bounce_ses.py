"""Amazon SES notifications: the JSON document SES (or SNS, wrapping it) mails about a send.

SES writes the recipients it could not deliver to (`bounce.bouncedRecipients`) or that complained
(`complaint.complainedRecipients`) with their DSN status. Mailed through an SNS topic, the
document is a JSON string inside SNS's own envelope (`"Message": "{\\"notificationType\\"..."`),
and mail systems may wrap its lines inside strings; both are read. A delivery notification
names nobody: nothing failed. Apart from `bounce.py`, which reads MTA text.
"""

import json
import re
from typing import Any

from postroom_converter.domain.bounce_dsn import Field, clean_status

__all__ = ["ses_fields"]

_SES_RE = re.compile(r"\{\s*+\"notificationType\"\s*+:", re.IGNORECASE)
_SNS_RE = re.compile(r"\{\s*+\"Type\"\s*+:\s*+\"Notification\"", re.IGNORECASE)
_LISTS = (("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients"))


def _document(text: str, start: re.Match[str] | None) -> Any:
    if not start:
        return None
    try:  # strict=False: a line wrapped inside a string is still the same document
        return json.JSONDecoder(strict=False).raw_decode(text[start.start() :])[0]
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return None


def ses_fields(text: str) -> list[Field] | None:
    """The failed or complaining recipients of an SES notification in `text`; None when the
    text holds no notification."""
    doc = _document(text, _SES_RE.search(text))
    if doc is None:
        envelope = _document(text, _SNS_RE.search(text))
        message = envelope.get("Message") if isinstance(envelope, dict) else None
        doc = _document(message, _SES_RE.search(message)) if isinstance(message, str) else None
    if not isinstance(doc, dict):
        return None
    found: list[Field] = []
    for key, name in _LISTS:
        report = doc.get(key)
        for r in report.get(name) or [] if isinstance(report, dict) else []:
            if isinstance(r, dict) and r.get("emailAddress"):
                status = clean_status(str(r.get("status") or r.get("diagnosticCode") or ""))
                found.append((str(r["emailAddress"]).lower(), status))
    return found
