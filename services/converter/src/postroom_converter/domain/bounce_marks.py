"""Which people a hard bounce marks (docs/features.md F10, F11): every recipient a permanent
bounce names, with its status code, once the bounce is linked to the item whose mail bounced.
A temporary failure (4.x.x, "delayed") marks nobody: the mail may still arrive. The replier
holds back automatic mail to a marked address until an admin clears the mark."""

from datetime import datetime

from postroom_converter.domain.bounce import Bounce
from postroom_shared.models import BounceMark

__all__ = ["MAX_REASON", "bounce_marks"]

MAX_REASON = 200


def bounce_marks(
    bounce: Bounce | None, *, item_id: str, reason: str, at: datetime
) -> list[BounceMark]:
    if bounce is None or not bounce.permanent:
        return []
    marks: dict[str, BounceMark] = {}
    for recipient in bounce.recipients:
        address = recipient.address.strip().lower()
        if address and address not in marks:
            marks[address] = BounceMark(
                address=address,
                code=recipient.status,
                reason=reason.strip()[:MAX_REASON],
                at=at,
                item_id=item_id,
            )
    return list(marks.values())
