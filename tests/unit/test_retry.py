"""Retry decisions, counted by our own header, and the names of the queues they use."""

import pytest
from pydantic import SecretStr, ValidationError

from postroom_shared.deadletters import reason_of
from postroom_shared.errors import ConfigError, PermanentError, TransientError
from postroom_shared.retry import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    DeadLetter,
    Retry,
    RetryPolicy,
    after_failure,
    attempt_of,
    copy_headers,
    delay_label,
    describe_error,
    retry_queue,
)
from postroom_shared.settings import CommonSettings
from postroom_shared.topology import topology_queue_names

POLICY = RetryPolicy(attempts=6, backoff_s=(1, 5, 30, 120, 600))


def test_each_failure_waits_longer_until_the_attempts_are_used_up() -> None:
    decisions = [
        after_failure(POLICY, attempt, RuntimeError("store down")) for attempt in (1, 2, 3, 4, 5)
    ]
    assert decisions == [Retry(2, 1), Retry(3, 5), Retry(4, 30), Retry(5, 120), Retry(6, 600)]
    last = after_failure(POLICY, 6, RuntimeError("store down"))
    assert isinstance(last, DeadLetter)
    assert last.reason == "failed 6 time(s), last: RuntimeError: store down"


def test_a_transient_error_takes_every_step_and_a_permanent_one_skips_to_the_last_try() -> None:
    assert after_failure(POLICY, 1, TransientError("smtp 451")) == Retry(2, 1)
    assert after_failure(POLICY, 1, PermanentError("bad input")) == Retry(6, 1)
    assert after_failure(POLICY, 3, ConfigError("no template")) == Retry(6, 30)
    assert isinstance(after_failure(POLICY, 6, PermanentError("bad input")), DeadLetter)


def test_the_last_step_repeats_and_unused_steps_get_no_queue() -> None:
    long = RetryPolicy(attempts=9, backoff_s=(1, 2))
    assert [long.delay_before(n) for n in range(2, 10)] == [1, 2, 2, 2, 2, 2, 2, 2]
    assert long.delays() == (1, 2)
    short = RetryPolicy(attempts=3, backoff_s=(1, 5, 30))
    assert short.delays() == (1, 5)
    assert RetryPolicy(attempts=1, backoff_s=(7,)).delays() == (7,)
    with pytest.raises(ValueError, match="at least one"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("headers", "attempt"),
    [
        (None, 1),
        ({}, 1),
        ({ATTEMPT_HEADER: 3}, 3),
        ({ATTEMPT_HEADER: "4"}, 4),
        ({ATTEMPT_HEADER: b"5"}, 5),
        ({ATTEMPT_HEADER: "garbage"}, 1),
        ({ATTEMPT_HEADER: -2}, 1),
        ({"x-delivery-count": 9}, 1),  # the broker's count is never ours
    ],
)
def test_the_attempt_comes_from_our_header_only(
    headers: dict[str, object] | None, attempt: int
) -> None:
    assert attempt_of(headers) == attempt


def test_a_copy_keeps_the_publishers_headers_and_drops_the_brokers_bookkeeping() -> None:
    original = {
        "trace": "abc",
        ATTEMPT_HEADER: 2,
        "x-delivery-count": 4,
        "x-death": [{"count": 1, "reason": "expired"}],
        "x-first-death-queue": "q.retry.1s",
        "x-last-death-reason": "expired",
    }
    copied = copy_headers(original, {ATTEMPT_HEADER: 3, ERROR_HEADER: "boom", "trace": None})
    assert copied == {ATTEMPT_HEADER: 3, ERROR_HEADER: "boom"}
    assert original[ATTEMPT_HEADER] == 2  # not modified


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(1, "1s"), (5, "5s"), (30, "30s"), (120, "2m"), (600, "10m"), (0.25, "250ms"), (1.5, "1500ms"),
     (3600, "1h"), (0.0001, "1ms")],
)  # fmt: skip
def test_delay_queues_are_named_by_their_delay(seconds: float, label: str) -> None:
    assert delay_label(seconds) == label
    assert retry_queue("converter.mail.received.v1", seconds).endswith(f".retry.{label}")


def test_every_consumer_queue_has_its_delay_queues_and_dlq() -> None:
    names = topology_queue_names(RetryPolicy(attempts=3, backoff_s=(1, 5)))
    assert names[:4] == [
        "converter.mail.received.v1",
        "converter.mail.received.v1.retry.1s",
        "converter.mail.received.v1.retry.5s",
        "converter.mail.received.v1.dlq",
    ]
    assert "replier.item.created.v1.retry.5s" in names and "replier.item.updated.v1.dlq" in names


def test_error_descriptions_are_bounded() -> None:
    text = describe_error(ValueError("x" * 5000))
    assert text.startswith("ValueError: xxx") and len(text) == 500


def test_dead_letter_reason_prefers_ours_then_the_brokers() -> None:
    assert reason_of({ERROR_HEADER: "failed 6 time(s)"}) == "failed 6 time(s)"
    death = {"x-death": [{"reason": "delivery_limit", "queue": "replier.item.created.v1"}]}
    assert reason_of(death) == (
        "dead-lettered by the broker from replier.item.created.v1: redelivered too often"
        " (a consumer crashed on it?)"
    )
    assert (
        reason_of({"x-first-death-reason": "rejected"}) == "dead-lettered by the broker: rejected"
    )
    assert reason_of(None) == "unknown"


def test_settings_take_comma_separated_steps_and_refuse_nonsense() -> None:
    base = {"store_url": "sqlite:///x", "secret_key": SecretStr("k" * 32)}
    settings = CommonSettings(**base, retry_backoff_s="0.5, 2,10")  # type: ignore[arg-type]
    assert settings.retry_backoff_s == (0.5, 2.0, 10.0)
    assert RetryPolicy.from_settings(settings).delays() == (0.5, 2.0, 10.0)
    for bad in ("", "0", "-1,2", "1,x"):
        with pytest.raises(ValidationError):
            CommonSettings(**base, retry_backoff_s=bad)  # type: ignore[arg-type]
