"""Which item does a mail belong to? (docs/decisions.md, threading; first match wins)

1. one of our signed Message-IDs in In-Reply-To/References;
2. the subject token of the account's item type, trusted only from a participant of the item
   (a stranger who guesses `[INC-7]` gets a new item, not a seat on someone else's thread);
3. In-Reply-To/References naming any stored Message-ID of the account's items;
otherwise a new item. The service looks the candidates up; this function only decides.
"""

from dataclasses import dataclass

from postroom_shared.mail.tokens import format_token
from postroom_shared.models import Item

__all__ = ["Candidates", "ThreadDecision", "decide_thread"]


@dataclass(frozen=True)
class Candidates:
    signed: Item | None = None
    by_token: Item | None = None
    by_reference: Item | None = None


@dataclass(frozen=True)
class ThreadDecision:
    item: Item | None  # None: create a new item
    reason: str


def decide_thread(sender: str | None, found: Candidates) -> ThreadDecision:
    if found.signed is not None:
        return ThreadDecision(found.signed, "signed Message-ID in In-Reply-To/References")
    if found.by_token is not None:
        token = format_token(found.by_token.item_type, found.by_token.number)
        if sender is not None and sender.lower() in found.by_token.participants:
            return ThreadDecision(found.by_token, f"subject token {token} from a participant")
        if found.by_reference is None:
            return ThreadDecision(
                None, f"subject token {token} from a non-participant: new item (anti-hijack)"
            )
    if found.by_reference is not None:
        return ThreadDecision(found.by_reference, "In-Reply-To/References match a stored message")
    return ThreadDecision(None, "no thread match: new item")
