"""`postroom parse FILE`: everything the converter reads from one mail, as one JSON object.

Support uses it to answer "why did this mail do that", and tools can rely on its keys: they are
always all present, in this order, whatever the mail (see `KEYS`). Mail over a size or
structure cap still yields the object, with `rejected` giving the reason (what the converter
would quarantine it for).
"""

import json
import os
import sys
from typing import Any

from postroom_converter.domain.bounce import parse_bounce
from postroom_converter.domain.classify import classify
from postroom_converter.domain.parse import Address, ParsedMail, parse_mail
from postroom_shared.contracts import ClassificationV1
from postroom_shared.errors import PermanentError
from postroom_shared.mail.msgid import MessageIdSigner

__all__ = ["KEYS", "describe", "main"]

KEYS = (
    "message_id", "in_reply_to", "references", "date", "from", "reply_to", "to", "cc",
    "subject", "text", "html", "reply_text", "attachments", "classification", "bounce",
    "defects", "rejected",
)  # fmt: skip
LOOP_HEADER = "x-postroom-loop"


def _address(address: Address | None) -> dict[str, str] | None:
    return {"address": address.address, "name": address.name} if address else None


def _classification(mail: ParsedMail, signer: MessageIdSigner | None) -> ClassificationV1:
    def ours(mid: str) -> bool:
        return signer is not None and signer.verify(mid) is not None

    return classify(mail, is_our_message_id=ours, loop_header=LOOP_HEADER)


def describe(raw: bytes, *, signer: MessageIdSigner | None = None) -> dict[str, Any]:
    """The JSON-ready description of `raw`; never raises."""
    try:
        mail = parse_mail(raw)
    except PermanentError as exc:
        empty: dict[str, Any] = dict.fromkeys(KEYS)
        empty.update(
            in_reply_to=[],
            references=[],
            reply_to=[],
            to=[],
            cc=[],
            attachments=[],
            defects=[f"rejected: {exc}"],
            rejected=str(exc),
        )
        return empty
    bounce = parse_bounce(mail.tree)
    return {
        "message_id": mail.message_id,
        "in_reply_to": list(mail.in_reply_to),
        "references": list(mail.references),
        "date": mail.date.isoformat() if mail.date else None,
        "from": _address(mail.sender),
        "reply_to": [_address(a) for a in mail.reply_to],
        "to": [_address(a) for a in mail.to],
        "cc": [_address(a) for a in mail.cc],
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "reply_text": mail.reply_text,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "content_id": a.content_id,
                "inline": a.inline,
            }
            for a in mail.attachments
        ],
        "classification": _classification(mail, signer).model_dump(mode="json"),
        "bounce": (
            {
                "permanent": bounce.permanent,
                "recipients": [
                    {"address": r.address, "status": r.status} for r in bounce.recipients
                ],
            }
            if bounce
            else None
        ),
        "defects": list(mail.defects),
        "rejected": None,
    }


def main(path: str) -> int:
    """Print the description of the mail in `path` (`-` = stdin); exit 0 for any readable mail."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
    except OSError as exc:
        print(f"postroom parse: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 66  # EX_NOINPUT
    secret = os.environ.get("POSTROOM_SECRET_KEY")
    signer = MessageIdSigner(secret, "") if secret else None
    json.dump(describe(raw, signer=signer), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
