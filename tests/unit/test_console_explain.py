"""The processing log's "why did this mail do that" sentences (console/explain.py), from the
reasons the converter's rules and the replier really write."""

import pytest

from postroom_api.console.explain import explain, rule_of_quarantine
from postroom_converter.domain.rules import automatic_without_item, own_loop, unknown_account
from postroom_converter.domain.rules.facts import Arrival, Content, Placement
from postroom_converter.domain.threading import Candidates
from postroom_shared.contracts import ClassificationV1, MailKind


def test_an_auto_submitted_mail_says_it_opened_nothing_and_why() -> None:
    reason = "auto_reply mail that belongs to no item: Auto-Submitted: auto-replied"
    why = explain("converter", "ignored", reason)
    assert why.rule == "auto-submitted"
    assert why.sentence == (
        "Ignored: it is an automatic reply that answers none of our items, so nobody is asking"
        " for anything and no item was opened (seen: Auto-Submitted: auto-replied)."
    )


@pytest.mark.parametrize(
    ("kind", "rule", "words"),
    [
        ("out_of_office", "out of office", "an out-of-office notice"),
        ("bounce", "bounce", "a bounce (a report that a mail could not be delivered)"),
    ],
)
def test_other_automatic_mail(kind: str, rule: str, words: str) -> None:
    why = explain("converter", "ignored", f"{kind} mail that belongs to no item: x-signal")
    assert why.rule == rule and f"it is {words} that answers none" in why.sentence
    assert why.sentence.endswith("(seen: x-signal).")


def test_a_loop_and_an_unknown_account() -> None:
    loop = explain("converter", "ignored", "our own mail came back: X-Postroom-Loop present")
    assert loop.rule == "loop"
    assert "a mail Postroom itself sent, come back (a mail loop)" in loop.sentence
    assert loop.sentence.endswith("(seen: X-Postroom-Loop present).")
    gone = explain("converter", "ignored", "unknown account acc9")
    assert gone == gone.__class__(
        "unknown account", "Ignored: it was fetched for account acc9, which no longer exists."
    )


@pytest.mark.parametrize(
    ("kind", "rule"),
    [("auto_reply", "auto-submitted"), ("out_of_office", "out of office"), ("bounce", "bounce")],
)
def test_the_rules_own_reasons_are_understood(kind: MailKind, rule: str) -> None:
    """The sentences read the reasons the converter's rules really write: a rule that changed
    its words would fall back to the bare "ignored" and fail here."""
    seen = ClassificationV1(kind=kind, auto_submitted=True, reasons=("Auto-Submitted: x",))
    automatic = automatic_without_item.check(Placement(seen, "a@example.org", Candidates()))
    assert automatic is not None
    assert explain("converter", "ignored", automatic.reason).rule == rule
    looped = ClassificationV1(kind="own_loop", auto_submitted=True, reasons=("our Message-ID",))
    loop = own_loop.check(Content(looped))
    assert loop is not None
    assert explain("converter", "ignored", loop.reason).rule == "loop"
    gone = unknown_account.check(Arrival("acc9", None))
    assert gone is not None
    assert explain("converter", "ignored", gone.reason).rule == "unknown account"


def test_created_threaded_and_an_unknown_action() -> None:
    created = explain("converter", "created", "no earlier item", "INC-7")
    assert (created.rule, created.tone) == ("new item", "ok")
    assert created.sentence == "Opened item INC-7: no earlier item."
    threaded = explain("converter", "threaded", "signed Message-ID in In-Reply-To", "INC-7")
    assert (
        threaded.sentence
        == "Added to item INC-7 as a new message: signed Message-ID in In-Reply-To."
    )
    odd = explain("converter", "weighed", "too heavy")
    assert (odd.rule, odd.sentence) == ("weighed", "weighed: too heavy.")
    assert explain("other", "x", "y.").sentence == "x: y."


def test_quarantined_names_its_rule() -> None:
    why = explain("converter", "quarantined", "MIME nesting depth 150 exceeds 100")
    assert (why.rule, why.tone) == ("over a structural limit", "bad")
    assert why.sentence.startswith("Quarantined: MIME nesting depth 150 exceeds 100. It waits")
    big = "mail of 30000000 bytes exceeds the account's size limit of 10485760 bytes"
    assert rule_of_quarantine(big) == "too large"
    assert rule_of_quarantine("failed repeatedly: RuntimeError('bug')") == "failed on every try"
    assert rule_of_quarantine("no header block") == "unreadable"


def test_the_replier_outcomes() -> None:
    sent = explain("replier", "auto_reply_sent", "casey@example.org: 250 2.0.0 Ok")
    assert (sent.rule, sent.tone) == ("sent", "ok")
    assert sent.sentence == "The auto-reply was sent to casey@example.org (250 2.0.0 Ok)."
    bare = explain("replier", "notification_sent", "casey@example.org")
    assert bare.sentence == "The notification was sent to casey@example.org."
    loop = explain(
        "replier", "auto_reply_suppressed", "me@example.test: recipient is one of our own addresses"
    )
    assert loop.rule == "loop"
    assert loop.sentence == (
        "The auto-reply was not sent to me@example.test: recipient is one of our own addresses."
    )
    off = explain(
        "replier",
        "too_large_notice_suppressed",
        "nobody: the account does not tell senders about too-large mail",
    )
    assert off.rule == "turned off" and off.sentence.startswith("The too-large notice was not")
    failed = explain("replier", "team_reply_failed", "a@b.example: 550 no such user")
    assert failed.sentence == "The team's reply to a@b.example failed for good: 550 no such user."
    warned = explain("replier", "notification_warning", "a@b.example: long subject cut")
    assert warned.sentence == "The notification was sent to a@b.example, but: long subject cut."
    broken = explain("replier", "auto_reply_template_failed", "template t1 not used: boom")
    assert broken.rule == "template broken"
    assert (
        broken.sentence == "The auto-reply used the built-in template: template t1 not used: boom."
    )
    assert explain("replier", "mystery", "x").sentence == "mystery: x."
