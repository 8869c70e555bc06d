""" "Why did this mail do that": a processing-log entry (docs/features.md F8) as one sentence.

The converter and the replier write terse entries (an action such as `ignored` or
`auto_reply_suppressed`, and a reason made of the rule's words and the signals it saw); the
console's log pages show them to people who never read the rules. `explain` is pure: it maps
the entry's fields to the rule that decided, in a few words, and a sentence, so the wording is
tested without a store and stays in step with the reasons the services write (each pattern
below names the module that writes it).
"""

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Why", "explain", "rule_of_quarantine"]

Tone = Literal["ok", "warn", "bad", ""]


@dataclass(frozen=True)
class Why:
    rule: str  # the rule that decided, in a few words ("auto-submitted", "loop", "too large")
    sentence: str  # what happened and why, for a person
    tone: Tone = ""


# postroom_converter.domain.rules.automatic_without_item:
# "<kind> mail that belongs to no item: <signals>"
_AUTOMATIC = re.compile(r"^(auto_reply|out_of_office|bounce) mail that belongs to no item: ?(.*)$")
_KINDS = {
    "auto_reply": ("auto-submitted", "an automatic reply"),
    "out_of_office": ("out of office", "an out-of-office notice"),
    "bounce": ("bounce", "a bounce (a report that a mail could not be delivered)"),
}
# postroom_converter.domain.rules.own_loop
_LOOP = "our own mail came back: "
# postroom_converter.domain.rules.unknown_account
_UNKNOWN_ACCOUNT = "unknown account "
# postroom_replier.reports: purposes as they appear in actions
_PURPOSES = {
    "auto_reply": "The auto-reply",
    "notification": "The notification",
    "too_large_notice": "The too-large notice",
    "team_reply": "The team's reply",
}


def _period(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def rule_of_quarantine(reason: str) -> str:
    """The rule behind a quarantine reason, in a few words."""
    lowered = reason.lower()
    if "size limit" in lowered or "over the account's limit" in lowered:
        return "too large"  # postroom_fetcher.domain.oversize
    if lowered.startswith("failed repeatedly"):
        return "failed on every try"  # postroom_converter.service, after the last retry
    if "exceeds" in lowered or "nesting" in lowered or "too many" in lowered:
        return "over a structural limit"  # postroom_converter.domain.limits
    return "unreadable"


def _ignored(reason: str) -> Why:
    if automatic := _AUTOMATIC.match(reason):
        rule, what = _KINDS[automatic.group(1)]
        signals = automatic.group(2) or automatic.group(1)
        return Why(
            rule,
            f"Ignored: it is {what} that answers none of our items, so nobody is asking for"
            f" anything and no item was opened (seen: {signals}).",
        )
    if reason.startswith(_LOOP):
        signals = reason[len(_LOOP) :]
        return Why(
            "loop",
            f"Ignored: it is a mail Postroom itself sent, come back (a mail loop); answering it"
            f" would start the loop again (seen: {signals}).",
        )
    if reason.startswith(_UNKNOWN_ACCOUNT):
        account = reason[len(_UNKNOWN_ACCOUNT) :]
        return Why(
            "unknown account",
            f"Ignored: it was fetched for account {account}, which no longer exists.",
        )
    return Why("ignored", f"Ignored: {_period(reason)}")


def _converter(action: str, reason: str, token: str | None) -> Why:
    item = f"item {token}" if token else "an item"
    if action == "created":
        return Why("new item", f"Opened {item}: {_period(reason)}", "ok")
    if action == "threaded":
        return Why("threading", f"Added to {item} as a new message: {_period(reason)}", "ok")
    if action == "ignored":
        return _ignored(reason)
    if action == "quarantined":
        return Why(
            rule_of_quarantine(reason),
            f"Quarantined: {_period(reason)} It waits in the quarantine to be reprocessed or"
            " discarded.",
            "bad",
        )
    return Why(action, f"{action}: {_period(reason)}")


def _split_recipient(reason: str) -> tuple[str, str]:
    """postroom_replier.reports writes "<recipient>: <detail>", or the recipient alone."""
    recipient, sep, detail = reason.partition(": ")
    if not sep or " " in recipient:
        return ("", reason) if " " in reason else (reason, "")
    return recipient, detail


def _suppressed_rule(detail: str) -> str:
    lowered = detail.lower()
    for words, rule in (  # postroom_replier.domain (loop_rules, limits, too_large, ...)
        ("loop", "loop"),
        ("our own address", "loop"),
        ("no-reply", "no-reply address"),
        ("bounce", "bounce"),
        ("auto-submitted", "auto-submitted"),
        ("automatic", "auto-submitted"),
        ("rate", "rate limit"),
        ("limit", "rate limit"),
        ("does not", "turned off"),
        ("disabled", "turned off"),
    ):
        if words in lowered:
            return rule
    return "suppressed"


def _replier(action: str, reason: str) -> Why:
    if action.endswith("_template_failed"):
        what = _PURPOSES.get(action.removesuffix("_template_failed"), "The mail")
        return Why(
            "template broken", f"{what} used the built-in template: {_period(reason)}", "warn"
        )
    purpose, _, outcome = action.rpartition("_")
    if purpose not in _PURPOSES:
        return Why(action, f"{action}: {_period(reason)}")
    what = _PURPOSES[purpose]
    recipient, detail = _split_recipient(reason)
    to = f" to {recipient}" if recipient else ""
    said = f" ({detail.strip()})" if detail.strip() else ""
    if outcome == "sent":
        return Why("sent", f"{what} was sent{to}{said}.", "ok")
    if outcome == "suppressed":
        return Why(
            _suppressed_rule(detail),
            f"{what} was not sent{to}: {_period(detail or 'suppressed')}",
            "warn",
        )
    if outcome == "failed":
        return Why(
            "delivery failed",
            f"{what}{to} failed for good: {_period(detail or 'no reason given')}",
            "bad",
        )
    if outcome == "warning":
        return Why("warning", f"{what} was sent{to}, but: {_period(detail)}", "warn")
    return Why(outcome or action, f"{what}{to}: {outcome}{said}.")


def explain(stage: str, action: str, reason: str, item_token: str | None = None) -> Why:
    """The rule that decided and the sentence for one processing-log entry."""
    if stage == "converter":
        return _converter(action, reason, item_token)
    if stage == "replier":
        return _replier(action, reason)
    return Why(action, f"{action}: {_period(reason)}")
