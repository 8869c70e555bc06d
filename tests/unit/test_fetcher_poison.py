"""Strikes against mail the server cannot hand out, on the embedded store."""

from pathlib import Path

from postroom_fetcher.domain.oversize import sender_and_subject
from postroom_fetcher.domain.poison import POISON_STRIKES, unreadable_headers, unreadable_reason
from postroom_fetcher.sync.strikes import add_strikes, clear_strikes, count_strikes
from postroom_shared.store import open_store


async def test_strikes_count_up_to_the_limit_and_are_cleared_selectively(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        ns = "strikes:INBOX"
        strikes = await count_strikes(store, "acc", ns, ["7/1", "7/2"])
        assert strikes == {"7/1": 0, "7/2": 0}
        for _ in range(POISON_STRIKES + 1):  # one more than the limit adds nothing
            await add_strikes(store, "acc", ns, ["7/2"], strikes)
        await add_strikes(store, "acc", ns, ["7/1"], strikes)
        assert await count_strikes(store, "acc", ns, ["7/1", "7/2"]) == {
            "7/1": 1,
            "7/2": POISON_STRIKES,
        }
        assert await count_strikes(store, "other", ns, ["7/2"]) == {"7/2": 0}
        await clear_strikes(store, "acc", ns, ["7/2"])
        assert await count_strikes(store, "acc", ns, ["7/1", "7/2"]) == {
            "7/1": 0,
            "7/2": POISON_STRIKES,
        }
        await clear_strikes(store, "acc", ns)
        assert await count_strikes(store, "acc", ns, ["7/2"]) == {"7/2": 0}
    finally:
        await store.close()


def test_unreadable_mail_is_named_in_its_placeholder() -> None:
    headers = unreadable_headers("INBOX UIDVALIDITY 7 UID 2")
    assert sender_and_subject(headers) == (None, "(unreadable message: INBOX UIDVALIDITY 7 UID 2)")
    assert "UID 2" in unreadable_reason("message UID 2")
