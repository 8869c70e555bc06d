"""Rate limits and the RFC 3834 identical-reply rule."""

from datetime import timedelta

from postroom_replier.domain.rate_limits import fingerprint, rate_limit_reason
from postroom_shared.models import SendRecord, utcnow

NOW = utcnow()


def _sent(
    n: int, *, item: str = "it_1", minutes_ago: float = 1.0, content: str = ""
) -> list[SendRecord]:
    return [
        SendRecord(
            recipient="c@x.test",
            item_id=item,
            fingerprint=content or f"f{item}{i}",
            at=NOW - timedelta(minutes=minutes_ago),
        )
        for i in range(n)
    ]


def _reason(history: list[SendRecord], content: str = "new") -> str | None:
    return rate_limit_reason(
        now=NOW, recipient="c@x.test", item_id="it_1", content=content, history=history
    )


def test_below_every_limit_is_allowed() -> None:
    assert _reason([]) is None
    assert _reason(_sent(9)) is None


def test_per_item_and_recipient_windows() -> None:
    assert "10 automatic mails about this item" in (_reason(_sent(10)) or "")
    assert _reason(_sent(14, minutes_ago=20)) is None
    assert "15 automatic mails about this item" in (_reason(_sent(15, minutes_ago=20)) or "")
    assert "100 automatic mails about this item" in (_reason(_sent(100, minutes_ago=500)) or "")
    assert _reason(_sent(100, minutes_ago=601)) is None


def test_per_recipient_windows_count_every_item() -> None:
    spread = [r for i in range(30) for r in _sent(1, item=f"it_{i + 2}")]
    assert "30 automatic mails to c@x.test in 10 min" in (_reason(spread) or "")


def test_identical_content_once_per_seven_days() -> None:
    same = fingerprint("Re: Away", "I am away")
    assert "RFC 3834" in (_reason(_sent(1, minutes_ago=6 * 24 * 60, content=same), same) or "")
    assert _reason(_sent(1, minutes_ago=7 * 24 * 60 + 1, content=same), same) is None
    assert fingerprint("a", "b") != fingerprint("a", "c")
