"""Everything the converter reads from one mail's bytes, as one small picklable value.

Why a module of its own: this is the part of the converter that looks at content anyone can
send, so it runs apart from the service (`budget.py` runs it in a worker process under a
deadline). It takes bytes and returns an `Analysis` without the `email` package's Message tree:
the parsed fields, the classification, the bounce report and the Message-IDs a bounce returns,
which is all the service needs to thread and store the mail. `postroom parse` describes the same
value, so the CLI and the converter can never disagree.

The worker calls `analyse_apart`, which leaves the classification's pydantic model to the
process that receives the answer (`classified`): a worker that never imports pydantic and the
models starts in about half the time.
"""

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from postroom_converter.domain.bounce import Bounce, parse_bounce
from postroom_converter.domain.classify import Kind, classification_v1, classify_kind
from postroom_converter.domain.parse import ParsedMail, parse_mail
from postroom_converter.domain.returned import returned_message_ids
from postroom_shared.errors import PermanentError
from postroom_shared.mail.msgid import MessageIdSigner

if TYPE_CHECKING:
    from postroom_shared.contracts import ClassificationV1

__all__ = ["LOOP_HEADER", "Analysis", "analyse", "analyse_apart", "classified"]

LOOP_HEADER = "x-postroom-loop"


@dataclass(frozen=True)
class Analysis:
    """What one mail says. `mail` is None (and `rejected` the reason) when the mail is over a
    size or structure cap."""

    mail: ParsedMail | None
    classification: "ClassificationV1 | None" = None
    bounce: Bounce | None = None  # for kind "bounce" (or always, when asked)
    returned_ids: tuple[str, ...] = ()  # Message-IDs of the mail a bounce returns
    rejected: str = ""


def analyse(
    raw: bytes,
    *,
    signer: MessageIdSigner | None,
    attachment_data: bool = True,
    every_bounce: bool = False,
) -> Analysis:
    """Parse and classify `raw`; pure, never raises for bad input.

    `attachment_data=False` leaves attachment bytes out (size and hash stay): cheaper to
    hand back when they will not be stored. `every_bounce` reads a bounce report from any mail,
    not only from one classified as a bounce (what `postroom parse` shows)."""
    return classified(
        *analyse_apart(
            raw, signer=signer, attachment_data=attachment_data, every_bounce=every_bounce
        )
    )


def analyse_apart(
    raw: bytes,
    *,
    signer: MessageIdSigner | None,
    attachment_data: bool = True,
    every_bounce: bool = False,
) -> tuple[Analysis, Kind | None]:
    """`analyse`, its classification left out of the `Analysis` and returned beside it as a
    plain (kind, reasons); `classified` joins the two."""
    try:
        mail = parse_mail(raw)
    except PermanentError as exc:  # over a size or structure cap
        return Analysis(mail=None, rejected=str(exc)), None

    def ours(message_id: str) -> bool:
        return signer is not None and signer.verify(message_id) is not None

    kind = classify_kind(mail, is_our_message_id=ours, loop_header=LOOP_HEADER)
    is_bounce = kind[0] == "bounce"
    bounce = parse_bounce(mail.tree) if is_bounce or every_bounce else None
    returned = returned_message_ids(mail.tree) if is_bounce else ()
    attachments = mail.attachments
    if not attachment_data:
        attachments = tuple(replace(a, data=b"") for a in attachments)
    lean = Analysis(
        mail=replace(mail, tree=None, attachments=attachments),
        bounce=bounce,
        returned_ids=returned,
    )
    return lean, kind


def classified(analysis: Analysis, kind: Kind | None) -> Analysis:
    """`analysis` with the classification `kind` stands for."""
    if kind is None:
        return analysis
    return replace(analysis, classification=classification_v1(kind))
