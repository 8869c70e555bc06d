"""`postroom parse FILE`: everything the converter reads from one mail, as one JSON object.

Support uses it to answer "why did this mail do that", and tools can rely on its keys: they are
always all present, in this order, whatever the mail (see `KEYS`). Mail over a size or
structure cap, or over the time budget, still yields the object, with `rejected` giving the
reason (what the converter would quarantine it for). The command analyses the mail exactly as
the converter does: in a worker process under POSTROOM_PARSE_BUDGET_S (`budget.py`).
"""

from typing import Any

from postroom_converter.analysis import Analysis, analyse
from postroom_converter.budget import TooSlow, analyse_once
from postroom_converter.domain.parse import Address
from postroom_converter.settings import AnalysisSettings
from postroom_shared.mail.msgid import MessageIdSigner

__all__ = ["KEYS", "describe", "describe_analysis", "describe_budgeted"]

KEYS = (
    "message_id", "in_reply_to", "references", "date", "from", "reply_to", "to", "cc",
    "subject", "text", "html", "reply_text", "attachments", "classification", "bounce",
    "defects", "rejected",
)  # fmt: skip


def _address(address: Address | None) -> dict[str, str] | None:
    return {"address": address.address, "name": address.name} if address else None


def _rejected(reason: str) -> dict[str, Any]:
    empty: dict[str, Any] = dict.fromkeys(KEYS)
    empty.update(
        in_reply_to=[],
        references=[],
        reply_to=[],
        to=[],
        cc=[],
        attachments=[],
        defects=[f"rejected: {reason}"],
        rejected=reason,
    )
    return empty


def describe_analysis(analysis: Analysis) -> dict[str, Any]:
    """The JSON-ready description of an analysed mail."""
    mail, classification, bounce = analysis.mail, analysis.classification, analysis.bounce
    if mail is None or classification is None:
        return _rejected(analysis.rejected)
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
        "classification": classification.model_dump(mode="json"),
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


def describe(raw: bytes, *, signer: MessageIdSigner | None = None) -> dict[str, Any]:
    """The JSON-ready description of `raw`, analysed in this process; never raises."""
    return describe_analysis(analyse(raw, signer=signer, attachment_data=False, every_bounce=True))


def describe_budgeted(raw: bytes, *, signer: MessageIdSigner | None = None) -> dict[str, Any]:
    """The description of `raw` analysed as the converter does: in a worker process under
    POSTROOM_PARSE_BUDGET_S; over it, `rejected` says so. Raises AnalysisFailed when the
    worker died and ValueError for a bad POSTROOM_PARSE_BUDGET_S."""
    budget_s = AnalysisSettings().parse_budget_s
    try:
        analysis = analyse_once(raw, signer=signer, budget_s=budget_s, every_bounce=True)
    except TooSlow as exc:
        analysis = Analysis(mail=None, rejected=str(exc))
    return describe_analysis(analysis)
