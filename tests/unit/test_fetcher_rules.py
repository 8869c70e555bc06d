"""The fetcher's pure rules that have a name of their own since the fetcher got its rooms:
where a mail came from, strike ids, how a mailbox error counts, when a state is rewritten,
what wakes a worker, and the crash points the kill tests use."""

from datetime import UTC, datetime
from typing import get_args

import pytest

from postroom_fetcher.domain.leases import lease_name, oauth_token_of
from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.domain.poison import (
    POISON_STRIKES,
    imap_strike_id,
    strike_keys,
    strike_namespace,
)
from postroom_fetcher.domain.state import (
    STATE_REFRESH_S,
    after_success,
    mailbox_failure,
    state_write_due,
)
from postroom_fetcher.sync.hooks import CrashPoint, no_crash
from postroom_shared.ingest import imap_mail_key, push_mail_key
from postroom_shared.models import AccountState, EmailAccount
from tests.crashpoints import POINTS, crash_point

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_origins_name_mail_as_the_converter_dedupes_it() -> None:
    imap = Origin.imap("acc", "Support", 7, 42)
    assert imap.mail_key == imap_mail_key("acc", "Support", 7, 42) == "acc/Support/7/42"
    assert imap.event_fields("fetcher") == {
        "account_id": "acc",
        "mail_key": "acc/Support/7/42",
        "source": "fetcher",
        "folder": "Support",
        "uidvalidity": 7,
        "uid": 42,
    }
    pop3 = Origin.pop3("acc", "u-1")
    assert (pop3.mail_key, pop3.folder, pop3.uid) == ("acc/pop3/u-1", "INBOX", None)
    push = Origin.push("acc", b"raw mail")
    assert push.mail_key == push_mail_key("acc", b"raw mail")
    assert Origin.push("acc", b"raw mail") == push  # an MTA's retry is the same mail
    assert Origin.push("acc", b"other mail") != push


def test_strikes_are_kept_per_folder_and_uidvalidity() -> None:
    assert strike_namespace("Support") == "strikes:Support"
    assert imap_strike_id(7, 42) == "7/42"
    assert strike_keys("7/42") == [f"7/42/{n}" for n in range(1, POISON_STRIKES + 1)]


def test_a_refused_oauth_token_is_permanent_only_the_second_time() -> None:
    first = mailbox_failure("auth", "no", permanent=True, oauth=True, ok_before=True)
    again = mailbox_failure("auth", "no", permanent=True, oauth=True, ok_before=False)
    assert (first.permanent, again.permanent) == (False, True)
    password = mailbox_failure("auth", "no", permanent=True, oauth=False, ok_before=True)
    assert password.permanent  # a wrong password is wrong the first time too
    network = mailbox_failure("network", "down", permanent=False, oauth=True, ok_before=True)
    assert (network.kind, network.message, network.permanent) == ("network", "down", False)


def test_an_unchanged_ok_state_is_rewritten_only_when_it_is_old() -> None:
    ok_poll = after_success(None, "acc", now=NOW, mode="poll")
    ok_idle = after_success(ok_poll, "acc", now=NOW, mode="idle")
    failed = AccountState(account_id="acc", status="error", failures=1, updated_at=NOW)
    assert state_write_due(None, ok_poll, age_s=0)
    assert state_write_due(failed, ok_poll, age_s=0)  # status changed
    assert state_write_due(ok_poll, ok_idle, age_s=0)  # mode changed
    assert not state_write_due(ok_poll, ok_poll, age_s=STATE_REFRESH_S - 1)
    assert state_write_due(ok_poll, ok_poll, age_s=STATE_REFRESH_S)


def test_leases_and_wake_ups() -> None:
    assert lease_name("acc_1") == "fetch:acc_1"
    account = EmailAccount.model_validate(
        {
            "id": "acc_1",
            "name": "Support",
            "address": "support@example.test",
            "project": "Support",
            "provider": "microsoft",
            "mailbox": {"host": "outlook.office365.com", "port": 993, "username": "s@x.test"},
            "oauth": {"client_id": "c", "refresh_token_enc": "r1"},
        }
    )
    assert oauth_token_of(account) == "r1"  # a new one wakes the worker
    password = account.model_copy(update={"provider": "imap", "oauth": None})
    assert oauth_token_of(password) is None


def test_crash_points_are_the_products_and_the_default_hook_does_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POSTROOM_FETCHER_CRASH_AT", raising=False)
    assert get_args(CrashPoint) == POINTS
    assert set(POINTS) == {
        "mid_download",
        "mid_stream",
        "after_publish",
        "after_finish",
        "after_checkpoint",
    }
    for point in POINTS:
        no_crash(point)
        crash_point(point)  # POSTROOM_FETCHER_CRASH_AT unset: the test hook does nothing either
