"""The API's pure rules: provider needs, write-only secrets, PATCH merge, copies, the item
cursor, download file names and inline-image links."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom_api.account_config import build_account
from postroom_api.account_edits import copy_name, copy_of, input_of, merge
from postroom_api.account_rules import Invalid, problems
from postroom_api.routes.items import _safe_filename, decode_cursor, encode_cursor
from postroom_api.schemas import AccountIn
from postroom_api.schemas.items import _link_inline_images
from postroom_shared.models import Item, ItemType
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("b" * 40)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def body(**changes: Any) -> AccountIn:
    data: dict[str, Any] = {
        "name": "Support",
        "address": "support@example.test",
        "project": "Desk",
        "mailbox": {"host": "imap.example.test", "username": "support", "password": "pw"},
    }
    data.update(changes)
    return AccountIn.model_validate(data)


def locs(found: list[tuple[tuple[str | int, ...], str]]) -> set[str]:
    return {".".join(map(str, loc)) for loc, _ in found}


def test_provider_needs() -> None:
    assert problems(body()) == []
    assert locs(problems(body(provider="google"))) == {"oauth", "mailbox.password"}
    assert locs(problems(body(provider="push"))) == {"mailbox"}
    assert locs(problems(body(provider="pop3", after_read="mark_read"))) == {"after_read"}
    oauth = {"client_id": "c"}
    assert locs(problems(body(oauth=oauth))) == {"oauth"}
    google = body(
        provider="google",
        mailbox={"username": "u"},
        oauth={"client_id": "c", "flow": "client_credentials"},
    )
    assert locs(problems(google)) == {"oauth.flow"}


def test_password_is_kept_only_for_the_same_server() -> None:
    first = build_account(body(), account_id="a1", old=None, secrets=BOX, now=NOW)
    assert first.mailbox is not None and first.mailbox.password_enc
    assert first.mailbox.port == 993
    same = body(mailbox={"host": "IMAP.example.test", "username": "support"})
    kept = build_account(same, account_id="a1", old=first, secrets=BOX, now=NOW)
    assert kept.mailbox is not None and kept.mailbox.password_enc == first.mailbox.password_enc
    assert kept.created_at == first.created_at
    for changed in (
        {"host": "evil.test", "username": "support"},
        {"host": "imap.example.test", "username": "other"},
    ):
        with pytest.raises(Invalid) as caught:
            build_account(body(mailbox=changed), account_id="a1", old=first, secrets=BOX, now=NOW)
        assert locs(caught.value.problems) == {"mailbox.password"}


def test_patch_base_round_trips_without_secrets() -> None:
    account = build_account(
        body(auto_reply={"send_to_cc": True}), account_id="a1", old=None, secrets=BOX, now=NOW
    )
    base = input_of(account)
    assert "password" not in base["mailbox"] and "password_enc" not in base["mailbox"]
    again = build_account(
        AccountIn.model_validate(merge(base, {"mailbox": {"folder": "Support"}})),
        account_id="a1",
        old=account,
        secrets=BOX,
        now=NOW,
    )
    assert again.mailbox is not None and again.mailbox.folder == "Support"
    assert again.mailbox.password_enc == account.mailbox.password_enc  # type: ignore[union-attr]
    assert again.auto_reply.send_to_cc is True


def test_merge_objects_deep_values_replaced() -> None:
    assert merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"c": 3}, "l": [2]}) == {
        "a": {"b": 1, "c": 3},
        "l": [2],
    }
    assert merge({"a": {"b": 1}}, {"a": None}) == {"a": None}


def test_a_patch_replaces_an_item_map_whole_so_an_entry_can_go() -> None:
    base = {"items": {"defaults": {"status": "open", "priority": "high"}, "save_attachments": True}}
    patched = merge(base, {"items": {"defaults": {"status": "new"}}})
    assert patched == {"items": {"defaults": {"status": "new"}, "save_attachments": True}}
    mapping = {"items": {"field_mapping": {"title": "subject", "fields.x": "to"}}}
    assert merge(mapping, {"items": {"field_mapping": {"title": "body"}}}) == {
        "items": {"field_mapping": {"title": "body"}}
    }


def test_copies() -> None:
    assert copy_name("Support", []) == "Support (copy)"
    assert copy_name("Support", ["Support (copy)"]) == "Support (copy 2)"
    assert len(copy_name("x" * 200, [])) == 200
    account = build_account(body(active=True), account_id="a1", old=None, secrets=BOX, now=NOW)
    copy = copy_of(account, account_id="a2", name="Copy", now=NOW)
    assert (copy.id, copy.name, copy.active) == ("a2", "Copy", False)
    assert copy.mailbox is not None and copy.mailbox.password_enc is None
    assert account.mailbox is not None and account.mailbox.password_enc  # original untouched


def _item(at: datetime, item_id: str = "it_1") -> Item:
    return Item(
        id=item_id,
        item_type=ItemType.INCIDENT,
        number=1,
        project="P",
        account_id="a",
        title="t",
        created_at=at,
    )


def test_cursor_round_trip_in_utc() -> None:
    local = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=timezone(timedelta(hours=2)))
    at, item_id = decode_cursor(encode_cursor(_item(local)))
    assert at == local and at.tzinfo == UTC and item_id == "it_1"


@given(st.text(max_size=60))
def test_any_cursor_text_is_a_value_error_or_a_cursor(text: str) -> None:
    try:
        at, _ = decode_cursor(text)
    except ValueError:
        return
    assert at.tzinfo is not None


@given(st.text(max_size=300) | st.just("bad\ud800name\r\n.txt"))
def test_download_names_are_header_safe(name: str) -> None:
    ascii_name, utf8_name = _safe_filename(name, "file")
    header = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"
    header.encode("latin-1")
    assert '"' not in ascii_name and "\r" not in header and "\n" not in header
    assert ascii_name and len(ascii_name) <= 200


def test_inline_images_point_at_their_downloads() -> None:
    html = '<img src="cid:Logo@X"><img src=\'cid:%3Cother%40x%3E\'><img src="cid:unknown">'
    urls = {"logo@x": "/v1/a/0", "other@x": "/v1/a/1"}
    assert _link_inline_images(html, urls) == (
        '<img src="/v1/a/0"><img src=\'/v1/a/1\'><img src="cid:unknown">'
    )
