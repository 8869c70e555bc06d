"""The converter's decision rules, each on its own and in their order, and the outcome and
item reference types they lead to (pure, no servers)."""

import importlib
import pkgutil
from typing import Any

import pytest

from postroom_converter.domain import rules
from postroom_converter.domain.decision import Create, Ignore, Quarantine, Thread
from postroom_converter.domain.outcome import Created, Duplicate, Ignored, Quarantined, Threaded
from postroom_converter.domain.rules import (
    Arrival,
    Content,
    Placement,
    automatic_without_item,
    own_loop,
    thread_or_create,
    unknown_account,
    unreadable,
)
from postroom_converter.domain.threading import Candidates
from postroom_shared.contracts import ClassificationV1, MailKind, item_ref
from postroom_shared.models import Item, ItemType
from tests import factories

ITEM = Item(
    id="it_1",
    item_type=ItemType.INCIDENT,
    number=1,
    project="Support",
    account_id="acc1",
    title="Printer",
    participants=["customer@example.org"],
)
CUSTOMER = "customer@example.org"


def _kind(kind: MailKind, *reasons: str) -> ClassificationV1:
    return ClassificationV1(kind=kind, auto_submitted=kind != "normal", reasons=reasons)


def _placement(kind: MailKind, candidates: Candidates, sender: str = CUSTOMER) -> Placement:
    return Placement(_kind(kind, f"{kind} signal"), sender, candidates)


def test_every_rule_has_a_name_a_docstring_and_a_check_and_runs_in_one_stage() -> None:
    modules = {
        importlib.import_module(f"{rules.__name__}.{m.name}")
        for m in pkgutil.iter_modules(rules.__path__)
        if m.name != "facts"
    }
    staged: list[Any] = [*rules.ON_ARRIVAL, *rules.ON_CONTENT, *rules.ON_PLACEMENT]
    assert modules == set(staged), "a rule module that no stage runs"
    names = [rule.NAME for rule in staged]
    assert len(set(names)) == len(names)
    for rule in staged:
        assert rule.__doc__ and rule.__doc__.startswith(f"{rule.NAME}: ")
        assert callable(rule.check)
    print("rules in order:", " > ".join(names))


def test_unknown_account_ignores_and_a_known_one_goes_on() -> None:
    assert unknown_account.check(Arrival("acc9", None)) == Ignore("unknown account acc9")
    assert unknown_account.check(Arrival("acc1", factories.account())) is None


def test_unreadable_mail_is_quarantined_with_its_reason() -> None:
    reason = "too_slow: analysis took over 5 s"
    assert unreadable.check(Content(None, reason)) == Quarantine(reason)
    assert unreadable.check(Content(_kind("normal"))) is None


@pytest.mark.parametrize("kind", ["normal", "bounce", "auto_reply", "out_of_office", "list"])
def test_own_loop_ignores_only_our_own_mail(kind: MailKind) -> None:
    own = Content(_kind("own_loop", "x-postroom-loop present", "our Message-ID"))
    assert own_loop.check(own) == Ignore(
        "our own mail came back: x-postroom-loop present; our Message-ID"
    )
    assert own_loop.check(Content(_kind(kind, "x"))) is None
    assert own_loop.check(Content(None, "over the cap")) is None


@pytest.mark.parametrize("kind", sorted(automatic_without_item.NEVER_NEW_ITEMS))
def test_automatic_mail_without_an_item_is_ignored_but_threads_onto_one(kind: MailKind) -> None:
    assert automatic_without_item.check(_placement(kind, Candidates())) == Ignore(
        f"{kind} mail that belongs to no item: {kind} signal"
    )
    assert automatic_without_item.check(_placement(kind, Candidates(signed=ITEM))) is None


@pytest.mark.parametrize("kind", ["normal", "list"])
def test_mail_from_people_and_lists_may_open_an_item(kind: MailKind) -> None:
    assert automatic_without_item.check(_placement(kind, Candidates())) is None


def test_thread_or_create_follows_the_threading_decision() -> None:
    signed = thread_or_create.check(_placement("normal", Candidates(signed=ITEM)))
    assert signed == Thread(ITEM, "signed Message-ID in In-Reply-To/References")
    by_token = thread_or_create.check(_placement("normal", Candidates(by_token=ITEM)))
    assert by_token == Thread(ITEM, "subject token [INC-1] from a participant")
    stranger = _placement("normal", Candidates(by_token=ITEM), sender="evil@example.net")
    assert isinstance(decision := thread_or_create.check(stranger), Create)
    assert "anti-hijack" in decision.reason
    assert thread_or_create.check(_placement("normal", Candidates())) == Create(
        "no thread match: new item"
    )


def test_the_stages_stop_or_go_on_in_order() -> None:
    assert rules.on_arrival(Arrival("acc1", factories.account())) is None
    assert isinstance(rules.on_arrival(Arrival("acc9", None)), Ignore)
    # unreadable comes first: a mail with no classification is quarantined, never ignored
    assert isinstance(rules.on_content(Content(None, "over the cap")), Quarantine)
    assert isinstance(rules.on_content(Content(_kind("own_loop", "x"))), Ignore)
    assert rules.on_content(Content(_kind("bounce", "x"))) is None
    assert isinstance(rules.on_placement(_placement("bounce", Candidates())), Ignore)
    assert isinstance(rules.on_placement(_placement("bounce", Candidates(signed=ITEM))), Thread)
    assert isinstance(rules.on_placement(_placement("normal", Candidates())), Create)


def test_outcomes_read_as_the_log_lines_they_were() -> None:
    assert str(Created("INC-3", "no thread match: new item")) == (
        "created INC-3 (no thread match: new item)"
    )
    assert str(Threaded("INC-1", "signed Message-ID")) == "threaded onto INC-1 (signed Message-ID)"
    assert str(Ignored("our own mail came back: x")) == "ignored: our own mail came back: x"
    assert str(Quarantined("too_slow: x")) == "quarantined: too_slow: x"
    assert str(Duplicate("already applied")) == "duplicate: already applied"


def test_item_ref_shows_the_item_as_events_do() -> None:
    ref = item_ref(ITEM)
    assert (ref.item_id, ref.token, ref.status, ref.item_type) == (
        "it_1",
        "INC-1",
        "new",
        "incident",
    )
    assert item_ref(ITEM, status="open").status == "open"
    assert item_ref(ITEM, status=None) == ref
