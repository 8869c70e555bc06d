"""The accounts screen's pure wording: the status badge from the fetcher's account state, and
the sentences that replace the progress indicator after "Refresh" and "messages waiting"."""

from postroom_api.console.account_pages import Badge, badge, refresh_words, waiting_words
from postroom_api.schemas import MailboxErrorView, RefreshView, WaitingView
from postroom_api.schemas.account_views import AccountStateView
from postroom_shared.models import AccountState


def _state(**fields: object) -> AccountStateView:
    return AccountStateView.of("acc", AccountState.model_validate({"account_id": "acc", **fields}))


def test_badge_per_state() -> None:
    assert badge(_state()) == Badge("ok", "ok")
    assert badge(_state(status="error", last_error="LOGIN failed")) == Badge(
        "error", "bad", "LOGIN failed"
    )
    reauth = badge(_state(status="needs_reauth", last_error="consent revoked"))
    assert reauth == Badge("needs re-authorisation", "warn", "consent revoked")
    assert badge(AccountStateView.of("acc", None)) == Badge("not checked yet", "")


def test_refresh_words() -> None:
    refused = RefreshView(ok=False, error="LOGIN failed", error_kind="auth", fetch_requested=False)
    assert refresh_words(refused) == (False, "the mailbox refused (auth): LOGIN failed")
    assert refresh_words(RefreshView(ok=True, fetch_requested=True)) == (
        True,
        "connection ok; fetching now",
    )
    worked, words = refresh_words(RefreshView(ok=True, fetch_requested=False))
    assert worked and "inactive" in words


def test_waiting_words() -> None:
    assert waiting_words(WaitingView(waiting=1)) == (True, "1 message waiting")
    assert waiting_words(WaitingView(waiting=3)) == (True, "3 messages waiting")
    error = MailboxErrorView(detail="no folder Gone", error_kind="folder", permanent=True)
    assert waiting_words(error) == (False, "the mailbox refused (folder): no folder Gone")
