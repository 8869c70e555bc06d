"""Subject tokens and reply prefixes: what the replier writes, the converter reads back."""

import pytest

from postroom_shared.mail.tokens import (
    find_token,
    format_token,
    strip_reply_prefixes,
    subject_with_token,
)
from postroom_shared.models import ItemType


@pytest.mark.parametrize(
    ("item_type", "number", "token"),
    [
        (ItemType.INCIDENT, 1, "[INC-1]"),
        (ItemType.USER_STORY, 7, "[US-7]"),
        (ItemType.DEFECT, 42, "[DEF-42]"),
    ],
)
def test_format_and_find_round_trip(item_type: ItemType, number: int, token: str) -> None:
    assert format_token(item_type, number) == token
    assert find_token(f"Re: {token} printer on fire", item_type) == number


def test_token_of_another_item_type_is_ignored() -> None:
    assert find_token("Re: [US-7] login", ItemType.INCIDENT) is None
    assert find_token("[US-7] and [INC-3]", ItemType.INCIDENT) == 3


def test_token_is_case_insensitive_and_rejects_zero() -> None:
    assert find_token("re: [inc-12] x", ItemType.INCIDENT) == 12
    assert find_token("[INC-0]", ItemType.INCIDENT) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Printer",
        "RE: AW: Printer",
        "Fwd: Printer",
        "SV: VS: Printer",
        "回复：Printer",
        "Re[2]: Printer",
        "WG: Antw: Printer",
        "転送: Printer",
    ],
)
def test_reply_prefixes_are_stripped(subject: str) -> None:
    assert strip_reply_prefixes(subject) == "Printer"


def test_subject_with_token_adds_it_once() -> None:
    assert subject_with_token("Printer", ItemType.INCIDENT, 1) == "Re: [INC-1] Printer"
    assert subject_with_token("Re: [INC-1] Printer", ItemType.INCIDENT, 1) == "Re: [INC-1] Printer"
