"""The replier's policies against abuse and loops (issue 10, points 16 and 19), as pure rules:
whom an auto-reply goes to (Reply-To policy), the global budgets' reasons, the loop breaker,
and the metric codes of the new suppression reasons."""

from datetime import UTC, datetime, timedelta

import pytest

from postroom_replier.domain.loop_breaker import BreakerRule, active_breakers, breaker_for, why
from postroom_replier.domain.loop_rules import plan_auto_reply, reply_target
from postroom_replier.domain.rate_limits import budget_reason, domain_of
from postroom_shared.contracts import AddressV1, ClassificationV1, MessageRefV1
from postroom_shared.metrics import SUPPRESSION_CODES, suppression_code
from postroom_shared.models import AutoReplySettings, SendRecord
from tests import factories

NORMAL = ClassificationV1(kind="normal", auto_submitted=False)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULE = BreakerRule(items=3, window_s=600, silence_s=3600)


def _message(sender: str | None, reply_to: str | None = None) -> MessageRefV1:
    return MessageRefV1(
        mail_key="k",
        message_id="<m@x>",
        sender=AddressV1(address=sender) if sender else None,
        reply_to=(AddressV1(address=reply_to),) if reply_to else (),
        classification=NORMAL,
    )


# --- Reply-To policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "reply_to", "honour", "target"),
    [
        ("ann@shop.test", None, False, "ann@shop.test"),  # no Reply-To: From
        ("ann@shop.test", "desk@shop.test", False, "desk@shop.test"),  # same domain: Reply-To
        ("Ann@Shop.test", "Desk@SHOP.test", False, "desk@shop.test"),  # domains compared lower
        ("ann@shop.test", "victim@elsewhere.test", False, "ann@shop.test"),  # foreign: From
        ("ann@shop.test", "victim@shop.test.evil.test", False, "ann@shop.test"),  # not a suffix
        ("ann@shop.test", "victim@elsewhere.test", True, "victim@elsewhere.test"),  # opted in
        (None, "victim@elsewhere.test", False, None),  # no From to compare with: nobody
        (None, "desk@shop.test", True, "desk@shop.test"),
        ("ann@shop.test", "not-an-address", False, "ann@shop.test"),
    ],
)
def test_reply_to_only_within_the_senders_domain_unless_the_account_says_so(
    sender: str | None, reply_to: str | None, honour: bool, target: str | None
) -> None:
    assert reply_target(_message(sender, reply_to), honour_reply_to=honour) == target


def test_forged_reply_to_gets_the_auto_reply_sent_to_from() -> None:
    message = _message("ann@shop.test", "victim@elsewhere.test")
    account = factories.account()
    plan = plan_auto_reply(account=account, event="created", message=message, own_addresses=set())
    assert plan.recipients == ("ann@shop.test",)
    trusting = account.model_copy(update={"auto_reply": AutoReplySettings(honour_reply_to=True)})
    plan = plan_auto_reply(account=trusting, event="created", message=message, own_addresses=set())
    assert plan.recipients == ("victim@elsewhere.test",)
    nobody = plan_auto_reply(
        account=account,
        event="created",
        message=_message(None, "victim@elsewhere.test"),
        own_addresses=set(),
    )
    assert nobody.recipients == () and nobody.suppressed == ((None, "no usable sender address"),)


# --- global budgets ----------------------------------------------------------------------------


def test_budget_reasons() -> None:
    assert budget_reason(999, 1000) is None
    assert budget_reason(5, 0) is None  # 0: no budget
    assert budget_reason(1000, 1000) == (
        "global_budget: 1000 automatic mails in the last hour (POSTROOM_AUTOMAIL_MAX_PER_HOUR)"
    )
    reason = budget_reason(200, 200, domain="victim.test")
    assert reason is not None and reason.startswith("domain_budget: 200 automatic mails to victim")
    assert domain_of("Ann@Shop.TEST") == "shop.test"


# --- the loop breaker --------------------------------------------------------------------------


def _sent(item: str, minutes_ago: float, **fields: object) -> SendRecord:
    return SendRecord.model_validate(
        {
            "recipient": "duel@x.test",
            "item_id": item,
            "fingerprint": item,
            "at": NOW - timedelta(minutes=minutes_ago),
            **fields,
        }
    )


def test_three_answered_new_items_within_ten_minutes_trip_the_breaker_for_an_hour() -> None:
    history = [_sent("a", 9), _sent("b", 5), _sent("c", 1)]
    breaker = breaker_for("duel@x.test", history, RULE, NOW)
    assert breaker is not None and breaker.items == 3
    assert breaker.tripped_at == NOW - timedelta(minutes=1)
    assert breaker.until == NOW + timedelta(minutes=59)
    assert breaker_for("duel@x.test", history[:2], RULE, NOW) is None  # two are not a loop
    assert breaker_for("duel@x.test", history, RULE, NOW + timedelta(minutes=59, seconds=1)) is None
    assert why(breaker, RULE) == (
        "loop_breaker: duel@x.test got auto-replies to 3 new items within 10 min (a mail loop?);"
        " no auto-reply to it until 2026-03-01 12:59 UTC"
    )


def test_what_does_not_trip_the_breaker() -> None:
    spread = [_sent("a", 25), _sent("b", 14), _sent("c", 3)]  # 3 items, but over 22 minutes
    assert breaker_for("duel@x.test", spread, RULE, NOW) is None
    same_item = [_sent("a", 9), _sent("a", 5), _sent("b", 1)]  # two items
    assert breaker_for("duel@x.test", same_item, RULE, NOW) is None
    notifications = [_sent(i, 2, purpose="notification") for i in "abcd"]
    assert breaker_for("duel@x.test", notifications, RULE, NOW) is None
    burst = [_sent("a", 3), _sent("b", 2), _sent("c", 1)]
    assert breaker_for("duel@x.test", burst, BreakerRule(items=0), NOW) is None  # switched off


def test_the_latest_series_decides_and_the_count_covers_its_window() -> None:
    old = [_sent("a", 200), _sent("b", 199), _sent("c", 198)]  # tripped, silence over
    recent = [_sent("d", 8), _sent("e", 6), _sent("f", 4), _sent("g", 2)]
    breaker = breaker_for("duel@x.test", old + recent, RULE, NOW)
    assert breaker is not None and breaker.items == 4
    assert breaker.tripped_at == NOW - timedelta(minutes=2)


def test_active_breakers_of_a_mixed_history() -> None:
    duel = [_sent(i, n) for i, n in (("a", 3), ("b", 2), ("c", 1))]
    calm = [_sent("z", 1).model_copy(update={"recipient": "calm@x.test"})]
    [breaker] = active_breakers(calm + duel, RULE, NOW)
    assert breaker.recipient == "duel@x.test"


# --- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("why", "code"),
    [
        ("loop_breaker: duel@x.test got auto-replies to 3 new items within 10 min", "loop_breaker"),
        ("global_budget: 1000 automatic mails in the last hour", "global_budget"),
        ("domain_budget: 200 automatic mails to daemon.test in the last hour", "domain_budget"),
    ],
)
def test_new_suppression_reasons_have_their_own_metric_code(why: str, code: str) -> None:
    assert suppression_code(why) == code and code in SUPPRESSION_CODES
