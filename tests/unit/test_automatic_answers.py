"""Auto-responders without any automatic-mail header, with a fresh subject and no threading
headers, recognised by what their text says of itself (issue 10, point 19), in common languages;
mail from people that merely talks about automatic replies stays normal."""

import re
from email.message import EmailMessage

import pytest

from postroom_converter.domain.classify import classify
from postroom_converter.domain.ooo import AUTOMATIC_BODY_RE, AUTOMATIC_BODY_WORDS, automatic_body
from postroom_converter.domain.parse import parse_mail


def _mail(body: str, subject: str = "Regarding your message") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Casey <casey@customer.test>"
    msg["To"] = "support@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = "<fresh-1@customer.test>"
    msg.set_content(body)
    return bytes(msg)


def _kind(raw: bytes) -> tuple[str, tuple[str, ...]]:
    found = classify(parse_mail(raw), is_our_message_id=lambda _: False, loop_header="x-loop")
    return found.kind, found.reasons


def test_the_out_of_office_duel_answer_is_automatic() -> None:
    kind, reasons = _kind(_mail("I am out of the office. This is an automatic answer."))
    assert kind == "out_of_office", reasons
    assert reasons == (
        "automatic-answer text ('This is an automatic answer')",
        "out-of-office text ('I am out')",
    )


@pytest.mark.parametrize(
    "body",
    [
        "Thank you for your mail.\n\nThis is an automatically generated message, do not reply.",
        "We received your request.\nThis is an automated response.",
        "This is an auto-reply. Your ticket number is 4711.",
        "This email was sent automatically by our ticket system.",
        "Vielen Dank. Dies ist eine automatische Antwort.",
        "Diese Nachricht wurde automatisch erstellt.",
        "Merci. Ceci est une réponse automatique.",
        "Ce message a été généré automatiquement.",
        "Gracias. Esta es una respuesta automática.",
        "Grazie. Questo è un messaggio automatico.",
        "Bedankt. Dit is een automatisch antwoord.",
        "Obrigado. Esta é uma resposta automática.",
        "Tack. Detta är ett automatiskt svar.",
        "Tak. Dette er et automatisk svar.",
        "Dziękujemy. To jest automatyczna odpowiedź.",
        "Спасибо. Это автоматический ответ.",
        "このメールは自動送信されています。",
        "谢谢。这是自动回复。",
    ],
)
def test_self_described_automatic_answers_in_common_languages(body: str) -> None:
    kind, reasons = _kind(_mail(body))
    assert kind == "auto_reply", (kind, reasons)
    assert reasons[0].startswith("automatic-answer text")


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Printer",
            "I got an automatic answer from you but no ticket. Is this an automatic reply?",
        ),
        ("Printer", "I am out of the office tomorrow, please call me on my mobile."),
        ("Fwd: Regarding your message", "See below.\n\n> This is an automatic answer."),
        ("Re: Regarding your message", "Why did I get this? This is an automatic answer, it said."),
        ("Printer", "Please switch off the automatic reply for my colleague."),
    ],
)
def test_people_talking_about_automatic_answers_stay_normal(subject: str, body: str) -> None:
    kind, reasons = _kind(_mail(body, subject))
    assert kind == "normal", reasons


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern's source (it has no `|` inside a class)."""
    parts, depth, start, escaped = [], 0, 0, False
    for at, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:at])
            start = at + 1
    return [*parts, pattern[start:]]


def test_every_automatic_answer_pattern_holds_a_word_the_prefilter_looks_for() -> None:
    # The search is skipped when none of the words is in the text: a new alternative without
    # one would never be tried.
    alternatives = _alternatives(AUTOMATIC_BODY_RE.pattern)
    assert len(alternatives) > 10
    for alternative in alternatives:
        assert any(w in alternative.casefold() for w in AUTOMATIC_BODY_WORDS), alternative


def test_the_prefilter_folds_every_character_the_pattern_takes_for_a_letter_of_its_words() -> None:
    every = "".join(map(chr, range(0x110000)))
    for letter in set("".join(AUTOMATIC_BODY_WORDS)):
        for found in re.finditer(re.escape(letter), every, re.IGNORECASE):
            assert found.group().casefold() == letter, hex(ord(found.group()))


@pytest.mark.parametrize(
    "text",
    [
        "THIS IS AN AUTOMATIC REPLY.",
        "Это аᲀтᲂматический ответ.",  # rounded ve and narrow o: Cyrillic case variants
        "This is an Automatic reply",
        "This is an autom\u0430tic reply",  # a Cyrillic a: neither matches
        "Dies ist eine automatische Antwort.",
        "Nothing automatic here at all",
        "plain text about printers",
        "",
    ],
)
def test_the_prefilter_changes_no_answer_of_the_pattern(text: str) -> None:
    expected = AUTOMATIC_BODY_RE.search(text)
    found = automatic_body(text)
    assert (found and found.span()) == (expected and expected.span())
