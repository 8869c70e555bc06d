"""classify() over the whole sisimai corpus and ordinary mail from the other corpora.

Every lhost-*/rhost-*/rfc3464-* file is a bounce, arf-* automatic, rfc3834-* an auto-reply or
out-of-office, is-not-bounce-* normal. The one exception is listed with its reason.
"""

from pathlib import Path

import pytest

from postroom_converter.domain.classify import classify
from postroom_converter.domain.parse import parse_mail

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
SISIMAI = sorted((MAIL / "sisimai").glob("*.eml"))
# A person forwarding a bounce to support ("Fwd: Returned mail", quoted with ">") asks a
# question: it must reach a human, so it stays normal although sisimai counts it as a bounce.
NOT_A_BOUNCE_FOR_US = {"lhost-sendmail-14.eml": "normal"}


def _kind(raw: bytes) -> str:
    return classify(
        parse_mail(raw), is_our_message_id=lambda _: False, loop_header="x-postroom-loop"
    ).kind


@pytest.mark.parametrize("path", SISIMAI, ids=lambda p: p.name)
def test_sisimai_kinds(path: Path) -> None:
    result = classify(
        parse_mail(path.read_bytes()),
        is_our_message_id=lambda _: False,
        loop_header="x-postroom-loop",
    )
    name = path.name
    if name in NOT_A_BOUNCE_FOR_US:
        assert result.kind == NOT_A_BOUNCE_FOR_US[name]
    elif name.startswith(("lhost-", "rhost-", "rfc3464-")):
        assert result.kind == "bounce", result.reasons
    elif name.startswith("arf-"):
        assert result.kind != "normal" and result.auto_submitted
    elif name.startswith("rfc3834-"):
        assert result.kind in {"auto_reply", "out_of_office"}, result.reasons
    else:
        assert result.kind == "normal", result.reasons
    assert bool(result.reasons) == (result.kind != "normal")


ORDINARY = sorted((MAIL / "talon" / "standard_replies").glob("*.eml")) + sorted(
    (MAIL / "django-helpdesk").glob("*.eml")
)
TEXTS = sorted((MAIL / "email_reply_parser-github").glob("*.txt")) + sorted(
    (MAIL / "email_reply_parser-zapier").glob("*.txt")
)


@pytest.mark.parametrize("path", ORDINARY, ids=lambda p: p.name)
def test_ordinary_mail_is_normal(path: Path) -> None:
    assert _kind(path.read_bytes()) == "normal"


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ordinary_bodies_are_normal(path: Path) -> None:
    raw = b"From: Cust <cust@x.test>\nSubject: Re: help\n\n" + path.read_bytes()
    assert _kind(raw) == "normal"


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("Auto-Submitted: auto-generated", "auto_reply"),
        ("Auto-Submitted: no", "normal"),
        ("Precedence: junk", "auto_reply"),
        ("Precedence: list", "list"),
        ("List-Post: <mailto:l@x.test>", "list"),
        ("List-Unsubscribe: <mailto:u@x.test>", "list"),
        ("X-Autoreply: yes", "auto_reply"),
        ("X-AutoReply-From: a@x.test", "auto_reply"),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", "auto_reply"),
        ("X-FC-MachineGenerated: true", "auto_reply"),
        ("X-Loop: a@x.test", "auto_reply"),
        ("Feedback-ID: 1:2:3", "normal"),
        ("Subject: Automatic reply: Help", "auto_reply"),
        ("Subject: Abwesenheitsnotiz: Hilfe", "out_of_office"),
        ("Subject: Réponse automatique : Aide", "auto_reply"),
        ("Subject: Re: Auto reply: Help", "normal"),
        ("Auto-Submitted: auto-replied\r\nSubject: Out of Office: Help", "out_of_office"),
        ("X-Failed-Recipients: a@x.test", "bounce"),
    ],
)
def test_header_signals(headers: str, kind: str) -> None:
    raw = f"From: a@x.test\r\n{headers}\r\n\r\nhi\r\n".encode()
    assert _kind(raw) == kind
