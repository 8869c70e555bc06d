"""The linear rewrites answer exactly as the patterns they replaced (issue 10, point 1).

The reference patterns below are the originals, super-linear on long runs but fine on the short
strings hypothesis makes here; the strings are drawn from the words and characters the patterns
care about, so matches are frequent. The corpus tests (bounce, classify, reply text) check the
same on real mail.
"""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom_converter.domain import bounce, bounce_patterns, reply_text
from postroom_shared.mail.tokens import strip_reply_prefixes

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The replaced patterns, verbatim.
_WROTE = (
    r"wrote|schrieb|a écrit|a ecrit|escribió|escribio|ha scritto|schreef|escreveu|skrev|"
    r"kirjoitti|napisał|napisal|napsal|írta|yazdı|написал(?:а)?|пишет|écrit|wrote\s*\(.*\)"
)
OLD_QUOTE_HEADER = re.compile(
    rf"^\s*(?:on|am|le|el|il|op|em|den|w dniu|dne|в|el día|\d{{1,4}}[./-])\b.{{0,300}}?"
    rf"(?:{_WROTE})(?:\s.{{0,200}}:)?\s*:?\s*$",
    re.IGNORECASE | re.DOTALL,
)
OLD_QUOTE_START = re.compile(
    r"^\s*(?:on|am|le|el|il|op|em|den|w dniu|dne|в|\d{1,4}[./-])\b", re.IGNORECASE
)
OLD_SEPARATOR = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|mensagem original|originalmeddelande|"
    r"opprinnelig melding|alkuperäinen viesti|wiadomość oryginalna|исходное сообщение|"
    r"forwarded message|weitergeleitete nachricht|message transféré)\s*-{2,}|"
    r"begin forwarded message:|"
    r"_{10,}|-{20,}|"
    r"##- .* -##|"
    r"-{3,} ?(?:reply|antworte|répondez) (?:above|oberhalb|au-dessus).*"
    r")\s*$",
    re.IGNORECASE,
)
OLD_FROM = re.compile(
    r"^\s*\*?(?:from|von|de|da|van|från|fra|od|от|expéditeur)\s*\*?\s*:\s*\S", re.IGNORECASE
)
OLD_SENT = re.compile(
    r"^\s*\*?(?:sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|data|verzonden|skickat|"
    r"sendt|wysłano|отправлено|to|an|à|para|a|aan|till|til|subject|betreff|objet|asunto|"
    r"oggetto|onderwerp|ämne|emne)\s*\*?\s*:",
    re.IGNORECASE,
)
OLD_SIGNATURE = re.compile(
    r"^\s*(?:--\s*|—|"
    r"sent from (?:my |a )?\S.{0,60}|sent (?:via|with) .{1,60}|get outlook for .{1,30}|"
    r"von meinem .{1,40} gesendet|gesendet von .{1,40}|envoyé de mon .{1,40}|"
    r"enviado desde mi .{1,40}|enviado do meu .{1,40}|inviato da(?:l mio)? .{1,40}|"
    r"verzonden (?:vanaf|met) .{1,40}|skickat från .{1,40}|"
    r"отправлено с .{1,40})\s*$",
    re.IGNORECASE,
)
OLD_NOT_RCPT = re.compile(
    r"^\s*>*\s*(?:from|return-path|reply-to|sender|message-id|received|x-[\w-]+|references|"
    r"in-reply-to|envelope-from|mail from|>>> mail from|original-envelope-id|reporting-mta|"
    r"dkim-signature|list-[\w-]+|errors-to)\s*:|\bmail from\s*:?\s*<|\bhelo\b|\behlo\b|"
    r"\bplease contact\b|\bfurther assistance\b",  # issue 14
    re.IGNORECASE,
)
OLD_ORIGINAL = re.compile(
    r"^[ \t|>-]*(?:-+ ?)?(?:this is a copy of (?:your|the) message|below this line is a copy|"
    r"original (?:message|mail) (?:follows|headers|as follows)|message text follows|"
    r"(?:the )?(?:original|returned) message(?! was received at)|unsent message below|"
    r"-+ ?(?:original|returned) message(?! was received at)|"
    # issue 14: Sendmail's opening line is no start; a part's Content-Type or a Received line is
    r"content-type:[ \t]*(?:message/rfc822|text/rfc822-headers)|(?:received|return-path):[ \t])",
    re.IGNORECASE | re.MULTILINE,
)
OLD_STRONG = re.compile(
    r"^[ \t*=-]*(?:"
    r"this is the mail system at host|"
    r"this message was created automatically by mail delivery software|"
    r"hi\. this is the (?:qmail-send|deliver) program|"
    r"i'm afraid i wasn't able to deliver your message|"
    r"sorry, we were unable to deliver your message|"
    r"the following addresses had (?:permanent fatal errors|delivery problems|"
    r"transient non-fatal errors)|"
    r"-+ ?the following addresses had|"
    r"the original message was received at|"
    r"delivery to the following recipients? (?:failed|has been delayed|was delayed)|"
    r"delivery has failed to these recipients or groups|"
    r"your message did not reach some or all of the intended recipients|"
    r"your message (?:wasn't|was not|could not be|couldn't be) delivered|"
    r"(?:a|the) message that you sent could not be delivered|"
    r"this is an automatically generated delivery status notification|"
    r"we had trouble delivering your message|"
    r"transcript of session follows|"
    r"error: invalid user address|"
    r"you are not a member of this mailing list|"
    r"duplicated message-id|"
    r"unable to deliver message to|"
    r"did not reach the following recipient|"
    r"\|?-+ ?(?:message log|failed addresses) follow|"
    r"a message that you sent contained one or more recipient addresses|"
    r"-+ this is a copy of your message, including all the headers|"
    r"message delivery has failed|"
    r"your mail sent on: .*|"
    r"could not be delivered to:|"
    r"was not delivered to:|"
    r"this is a delivery status notification|"
    r"message from .+ could not be delivered|"
    r"the following message to <[^>]+> was undeliverable|"
    r"\{\"notificationtype\":\"(?:bounce|complaint|delivery)\"|"
    # issue 14
    r"delivery is delayed to these recipients or groups|"
    r"this message hasn't been delivered yet|"
    r"a message that you sent has not yet been delivered to one or more of its|"
    r"抱歉，您的邮件被退回|您的邮件(?:无法|未能)(?:成功)?(?:投递|送达)"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
OLD_FEEDBACK = re.compile(
    r"^\s*(?:complaint about message from|abuse report\b|[\w ]*abuse report$|"
    r"email feedback report|dmarc forensic report|spamtraphit)",
    re.IGNORECASE,
)
OLD_PREFIX = re.compile(
    r"^\s*(?:(?:re|r|aw|antw|antwort|sv|vs|ref|rif|odp|fw|fwd|wg|tr|rv|enc|doorst|"
    r"回复|回覆|答复|转发|轉寄|転送|返信)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def _text(*words: str, size: int = 14) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words), max_size=size).map("".join)


QUOTE_WORDS = (
    "on", "On ", "el", "el día", "12.", "w dniu", "в", "am ", "wrote", "WROTE", "написала",
    "napisał", "a écrit", "écrit", "yazdı", "wrote (", "(", ")", ":", " ", "  ", "\t", "x", "ab",
    "x" * 195, "x" * 290, "\u2028", "\xa0",
)  # fmt: skip
LINE_WORDS = (
    "-", "--", "---", "- ", "_" * 5, "##-", "-##", " ", "\t", "x", "original message",
    "begin forwarded message:", "reply above", "sent from my ", "sent via ", "—", "from", "From",
    "de", "*", ":", "von meinem ", " gesendet", "inviato dal mio ", "get outlook for ", "\u2028",
    "Sent", "date", "an", "aan", "a", "ursprüngliche nachricht", "forwarded message",
)  # fmt: skip
BOUNCE_WORDS = (
    "-", "--", " ", "\t", "|", ">", "=", "*", "\n", "x", "original message", "returned message",
    "the ", "this is a copy of your message", "message text follows", "mail from", ":", "<",
    "from", "x-foo", ">>> mail from", "helo", "the following addresses had", "message log follow",
    "this is a copy of your message, including all the headers", "transcript of session follows",
    "your mail sent on: x", "message from x could not be delivered", '{"notificationtype":"bounce"',
    "this is the mail system at host", "- ", "received", "sender", "list-id", "ehlo",
    "the original message was received at", " was received at", "original mail as follows",
    "content-type: message/rfc822", "received: ", "return-path:\t", "please contact",
    "delivery is delayed to these recipients or groups", "您的邮件无法投递",
)  # fmt: skip


def _same_quote_headers(lines: list[str]) -> None:
    def old(index: int) -> int:  # the replaced reply_text._is_quote_header
        if not OLD_QUOTE_START.match(lines[index]):
            return 0
        for span in range(1, 5):
            if index + span > len(lines) or (span > 1 and not lines[index + span - 1].strip()):
                return 0
            if OLD_QUOTE_HEADER.match(" ".join(lines[index : index + span])):
                return span
        return 0

    for index in range(len(lines)):
        assert reply_text._is_quote_header(lines, index) == old(index)


@PROPERTY
@given(st.lists(_text(*QUOTE_WORDS), min_size=1, max_size=5))
def test_quote_header(lines: list[str]) -> None:
    _same_quote_headers(lines)


def _gap(limit: int) -> st.SearchStrategy[str]:
    """Filler of about `limit` characters: the boundaries are where rewrites go wrong."""
    return st.one_of(
        st.integers(0, 3).map(" ".__mul__),
        st.integers(limit - 6, limit + 3).map(lambda n: " " + "x" * max(0, n - 2) + " "),
        st.integers(limit - 3, limit + 3).map(lambda n: "x ) " * (n // 4) + "x" * (n % 4)),
    )


QUOTE_LINE = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["on", "On ", "el", "el día", "12.", "в", "x", "  on"]),
        _gap(300),
        st.sampled_from(["wrote", "WROTE", "написала", "a écrit", "wrote (x)", "wrote (", "x"]),
        st.one_of(st.just(""), _gap(200).map(lambda gap: gap + ":")),
        st.sampled_from(["", ":", " :", ": :", "::", " ", ")", ") :", "  \t"]),
    ),
)


@settings(PROPERTY, max_examples=1_500)
@given(st.lists(st.one_of(QUOTE_LINE, _text(*QUOTE_WORDS, size=4)), min_size=1, max_size=4))
def test_quote_header_at_the_limits(lines: list[str]) -> None:
    _same_quote_headers(lines)


@PROPERTY
@given(_text(*LINE_WORDS))
def test_line_patterns(line: str) -> None:
    stripped = line.strip()
    assert bool(reply_text._HARD_SEPARATOR_RE.fullmatch(stripped)) == bool(
        OLD_SEPARATOR.match(line)
    )
    assert reply_text._is_signature(line, stripped) == bool(OLD_SIGNATURE.match(line))
    assert bool(reply_text._FROM_RE.match(line)) == bool(OLD_FROM.match(line))
    assert bool(reply_text._SENT_RE.match(line)) == bool(OLD_SENT.match(line))


@PROPERTY
@given(_text(*BOUNCE_WORDS, size=12))
def test_bounce_patterns(text: str) -> None:
    old, new = OLD_ORIGINAL.search(text), bounce._ORIGINAL_RE.search(text)
    assert (old.start() if old else None) == (new.start() if new else None)
    line = text.split("\n")[0]
    assert bool(bounce._NOT_RCPT_LINE_RE.search(line)) == bool(OLD_NOT_RCPT.search(line))
    old_strong, strong = OLD_STRONG.search(text), bounce_patterns.STRONG_BODY_RE.search(text)
    assert (old_strong.group(0) if old_strong else None) == (strong.group(0) if strong else None)


@PROPERTY
@given(_text("<", ">", "a", "<b>", " ", "\n", "x" * 1_999, "x" * 2_001, size=20))
def test_html_tags(html: str) -> None:
    expected = re.sub(r"<[^>]{0,2000}>", " ", html)
    assert bounce._without_tags(html, 10**9) == expected
    assert bounce._without_tags(html, 50)[:50] == expected[:50]


@PROPERTY
@given(_text("re", "Re", "aw", "fwd", "fw", "sv", "[2]", "[", "]", " ", "  ", "\t", ":", "：", "x"))
def test_reply_prefixes(subject: str) -> None:
    assert strip_reply_prefixes(subject) == OLD_PREFIX.sub("", subject).strip()


@PROPERTY
@given(_text(" ", "\t", "\n", "x", "abuse report", "complaint about message from", "spamtraphit"))
def test_feedback_subject(subject: str) -> None:
    old, new = OLD_FEEDBACK.search(subject), bounce_patterns.FEEDBACK_SUBJECT_RE.search(subject)
    assert (old.group(0) if old else None) == (new.group(0) if new else None)
