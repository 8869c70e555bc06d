"""extract_reply() against the talon and email_reply_parser corpora (tests/fixtures/mail).

talon's expectation (tests/text_quotations_test.py::test_standard_replies) is "Hello" or the
`<name>_reply_text` file; talon keeps signatures, we strip them, so for iphone/sparrow we assert
talon's text without its signature lines. email_reply_parser's expectations are the fragment
checks of test/test_email_reply_parser.py (zapier) and email_reply_parser_test.rb (github),
translated to "visible text contains / does not contain".
"""

from pathlib import Path

import pytest

from postroom_converter.domain.parse import parse_mail
from postroom_converter.domain.reply_text import extract_reply

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
TALON = MAIL / "talon" / "standard_replies"
TALON_WITHOUT_SIGNATURE = {"iphone": "Hello", "sparrow": "Hello"}


@pytest.mark.parametrize("path", sorted(TALON.glob("*.eml")), ids=lambda p: p.stem)
def test_talon_standard_replies(path: Path) -> None:
    expected_file = TALON / f"{path.stem}_reply_text"
    expected = expected_file.read_text().strip() if expected_file.exists() else "Hello"
    expected = TALON_WITHOUT_SIGNATURE.get(path.stem, expected)
    assert extract_reply(parse_mail(path.read_bytes()).text) == expected


# file: (must contain, must not contain) in the visible reply
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "email_1_1": (("Hi folks",), ("riak-users",)),
    "email_1_2": (("Hi,", "You can list the keys for the bucket"), ("> Hi folks", "riak-users")),
    "email_1_3": (("Oh thanks.",), (">", "riak-users")),
    "email_1_4": (("Awesome",), ("Loader", "wrote:")),
    "email_1_5": (("One: Here's what I've got.", "Two:"), ()),
    "email_1_6": (("I get",), ("wrote:", "Was this caching related")),
    "email_1_7": ((":+1:",), ("Steps 0-2",)),
    "email_1_8": (("I will reply under this one", "and under this."), ()),
    "correct_sig": (("this is an email with a correct -- signature.",), ("\n--",)),
    "email_iPhone": (("Here is another email",), ("Sent from my iPhone",)),
    "email_BlackBerry": (("Here is another email",), ("Sent from",)),
    "email_multi_word_sent_from_my_mobile_device": (("Here is another email",), ("Sent from",)),
    "email_sent_from_my_not_signature": (("Here is another email",), ()),
    "email_one_is_not_on": (
        ("Thank, this is really helpful.",),
        ("On Oct 1, 2012, at 11:55 PM, Dave Tapley wrote:",),
    ),
    "email_sig_delimiter_in_middle_of_line": (("this is not a signature", "kthxbai"), ()),
    "email_bullets": (("and retain this formatting", "- and another"), ()),
    "greedy_on": (("On your remote host you can run:", "the tunnel is not working."), (">",)),
    "pathological": (("I think you're onto something.",), (">",)),
    "email_2_1": (("Outlook with a reply",), ("-----", "From:")),
    "email_2_2": (("Outlook with a reply directly above line",), ("From:",)),
    "email_gmail": (("This is a test for inbox replying",), ("xxx@gmail.com", "wrote")),
    "email_headers_no_delimiter": (("And another reply!",), ("A reply", "This is a message.")),
    "email_partial_quote_header": (("On your remote host you can run:",), (">",)),
}
CASES = [
    (corpus, name)
    for corpus in ("email_reply_parser-github", "email_reply_parser-zapier")
    for name in EXPECTED
    if (MAIL / corpus / f"{name}.txt").exists()
]


@pytest.mark.parametrize(("corpus", "name"), CASES)
def test_email_reply_parser_expectations(corpus: str, name: str) -> None:
    reply = extract_reply((MAIL / corpus / f"{name}.txt").read_text())
    present, absent = EXPECTED[name]
    for text in present:
        assert text in reply
    for text in absent:
        assert text not in reply


def test_long_quote_is_linear() -> None:
    text = (MAIL / "email_reply_parser-github" / "email_long_quote.txt").read_text()
    reply = extract_reply(text)
    assert reply and len(reply) < len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Danke!\n\nAm 24.11.2026 um 10:00 schrieb Max <m@x.test>:\n> alt", "Danke!"),
        ("Merci\n\nLe mar. 24 nov. 2026 à 10:00, Max <m@x.test> a écrit :\n> vieux", "Merci"),
        ("Gracias\n\nEl mar, 24 nov 2026 a las 10:00, Max escribió:\nviejo", "Gracias"),
        ("Ok\n\n-----Ursprüngliche Nachricht-----\nVon: x\nalt", "Ok"),
        ("Ok\n\nFrom: Max <m@x.test>\nSent: Monday\nTo: us\nSubject: x\n\nold", "Ok"),
        ("Ok\n\nVon: Max <m@x.test>\nGesendet: Montag\nAn: uns\nBetreff: x\n\nalt", "Ok"),
        ("Ok\n\nVon meinem iPhone gesendet", "Ok"),
        ("Ok\n\n##- Please type your reply above this line -##\nold", "Ok"),
    ],
)
def test_provider_separators(text: str, expected: str) -> None:
    assert extract_reply(text) == expected
