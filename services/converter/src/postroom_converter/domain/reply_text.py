"""The new part of a reply: the visible text without quoted history and signature.

Separators known from the big clients (Gmail/Apple "On … wrote:" in several languages, also
wrapped over up to three lines; Outlook "From: … Sent: …" header blocks, "-----Original
Message-----" and its translations, the underscore rule; Yahoo "----- Original Message -----";
forwarded-message markers) cut the text. A quote header followed by ">" lines is treated as an
interleaved reply: the quoted lines go, the person's answers between them stay. Signatures
("-- ", "Sent from my iPhone" and translations) end the text. Checked against the talon and
email_reply_parser corpora (tests/unit/test_reply_text_corpus.py).

Runs on every mail, so every step is linear in the text (tests/unit/test_pathological.py): no
two quantifiers compete for the same characters (possessive `*+` where they would), patterns
that end in "whitespace to the end of the line" see the line stripped or its trailing
whitespace shortened, and the quote header ("On <date>, <name> wrote:"), whose pattern
backtracks over every `)` and `:` of a long line, is decided by `_quote_header` in plain Python.
"""

import re

__all__ = ["extract_reply"]

_MAX_LINES = 20_000
# Words for "wrote"; the form "wrote (…)" is handled by `_WROTE_OPEN_RE`.
_WROTE = (
    r"wrote|schrieb|a écrit|a ecrit|escribió|escribio|ha scritto|schreef|escreveu|skrev|"
    r"kirjoitti|napisał|napisal|napsal|írta|yazdı|написал(?:а)?|пишет|écrit"
)
_MAX_WROTE = 12  # characters of the longest word above, with room to spare
_QUOTE_GAP = 300  # at most this many characters between "On" and "wrote"
_TAIL_GAP = 200  # "wrote (on the list) at 10:00:" : the text after the word, up to its ':'
# A quote header is: optional whitespace, one of these words, at most _QUOTE_GAP characters,
# a word of _WROTE (or "wrote (…)"), then optionally whitespace + up to _TAIL_GAP characters
# + ':', then optionally ':', and whitespace to the end; matched on up to 4 joined lines.
_QUOTE_HEADER_START_RE = re.compile(
    r"^\s*+(?:on|am|le|el|il|op|em|den|w dniu|dne|в|\d{1,4}[./-])\b", re.IGNORECASE
)
_KEYWORD_RE = re.compile(
    r"(?:on|am|le|el|il|op|em|den|w dniu|dne|в|el día|\d{1,4}[./-])\b", re.IGNORECASE
)
_EL_DIA_RE = re.compile(r"el día\b", re.IGNORECASE)  # the one keyword "el" is a prefix of
_WROTE_AT_RE = re.compile(rf"(?=({_WROTE}))", re.IGNORECASE)  # every start, overlaps too
_WROTE_END_RE = re.compile(rf"(?:{_WROTE})\Z", re.IGNORECASE)
_WROTE_OPEN_RE = re.compile(r"wrote\s*+\(", re.IGNORECASE)
_NAPISALA_RE = re.compile(r"написала", re.IGNORECASE)  # "написал" matches inside it too
# Lines after which everything is history (matched on the stripped line).
_HARD_SEPARATOR_RE = re.compile(
    r"-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|mensagem original|originalmeddelande|"
    r"opprinnelig melding|alkuperäinen viesti|wiadomość oryginalna|исходное сообщение|"
    r"forwarded message|weitergeleitete nachricht|message transféré)\s*-{2,}|"
    r"begin forwarded message:|"
    r"_{10,}|-{20,}|"
    r"##- .* -##|"
    r"-{3,} ?(?:reply|antworte|répondez) (?:above|oberhalb|au-dessus).*",
    re.IGNORECASE,
)
# Outlook's header block: "From: …" followed within 3 lines by "Sent:"/"Date:" (and translations).
_FROM_RE = re.compile(
    r"^\s*+\*?(?:from|von|de|da|van|från|fra|od|от|expéditeur)\s*+\*?+\s*+:\s*+\S",
    re.IGNORECASE,
)
_SENT_RE = re.compile(
    r"^\s*+\*?(?:sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|data|verzonden|skickat|"
    r"sendt|wysłano|отправлено|to|an|à|para|a|aan|till|til|subject|betreff|objet|asunto|"
    r"oggetto|onderwerp|ämne|emne)\s*+\*?+\s*+:",
    re.IGNORECASE,
)
_SIGNATURE_RE = re.compile(
    r"(?:--\s*+|—|"
    r"sent from (?:my |a )?\S.{0,60}|sent (?:via|with) .{1,60}|get outlook for .{1,30}|"
    r"von meinem .{1,40} gesendet|gesendet von .{1,40}|envoyé de mon .{1,40}|"
    r"enviado desde mi .{1,40}|enviado do meu .{1,40}|inviato da(?:l mio)? .{1,40}|"
    r"verzonden (?:vanaf|met) .{1,40}|skickat från .{1,40}|"
    r"отправлено с .{1,40})\s*$",
    re.IGNORECASE,
)
# No signature above is longer than this (without surrounding whitespace).
_MAX_SIGNATURE = 100


def _is_signature(line: str, stripped: str) -> bool:
    # A phrase may take up to two characters of trailing whitespace ("sent via" + 2 spaces);
    # more would only make `.{1,60}` and `\s*$` trade them back and forth.
    if len(stripped) > _MAX_SIGNATURE:
        return False
    start = line.lstrip()
    return _SIGNATURE_RE.match(start[: len(stripped) + 2]) is not None


class _Tail:
    """Where a "wrote" word may end in `s` (stripped): the rest must be `(?:\\s.{0,200}:)?\\s*:?`,
    that is nothing, or ':' after whitespace, or whitespace and up to 200 characters up to
    one of at most two colons that only whitespace and a final ':' may follow."""

    def __init__(self, s: str) -> None:
        self.s = s
        self.colon = s.endswith(":")
        # s[run:-1] is the whitespace before the final ':'
        self.run = len(s[:-1].rstrip()) if self.colon else len(s)
        self.colons = [len(s) - 1] if self.colon else []
        if self.colon and self.run >= 1 and s[self.run - 1] == ":":
            self.colons.append(self.run - 1)

    def ok(self, end: int) -> bool:
        if end == len(self.s):
            return True
        if not self.colon:
            return False
        if end >= self.run:
            return True
        return self.s[end].isspace() and any(1 <= j - end <= _TAIL_GAP + 1 for j in self.colons)

    def last_paren(self) -> int:
        """The last `)` a "wrote (…)" may end with, or -1."""
        n = len(self.s)
        candidates = {n - 1, self.run - 1}
        for j in self.colons:
            candidates.update(range(max(0, j - _TAIL_GAP - 2), j - 1))
        good = [p for p in candidates if 0 <= p < n and self.s[p] == ")" and self.ok(p + 1)]
        return max(good, default=-1)


def _keyword_ends(s: str) -> list[int]:
    found = _KEYWORD_RE.match(s)
    ends = [found.end()] if found else []
    el_dia = _EL_DIA_RE.match(s)
    return [*ends, el_dia.end()] if el_dia else ends


def _wrote_words(text: str, low: int, high: int) -> list[tuple[int, tuple[int, ...], int]]:
    """(start, possible ends, end of "wrote (" or -1) of every "wrote" word starting in
    text[low:high + 1]."""
    found = []
    for match in _WROTE_AT_RE.finditer(text, low, min(len(text), high + _MAX_WROTE)):
        start = match.start()
        if start > high:
            break
        ends: tuple[int, ...] = (match.end(1),)
        if _NAPISALA_RE.fullmatch(match.group(1)):
            ends += (match.end(1) - 1,)
        opened = _WROTE_OPEN_RE.match(text, start)
        found.append((start, ends, opened.end() if opened else -1))
    return found


def _worth_a_look(s: str) -> bool:
    """Cheap and exact: a header ends with ':' or ')' or with a "wrote" word."""
    return (
        s.endswith((":", ")")) or _WROTE_END_RE.search(s, max(0, len(s) - _MAX_WROTE)) is not None
    )


def _quote_header(texts: list[str]) -> int:
    """The number of the `texts` (1, 2, …: the same text joined over more lines, stripped)
    that the first quote header is, 0 when none is; linear in their length."""
    longest = texts[-1]
    possible = _keyword_ends(longest)  # a shorter text's keyword ends are among these
    if not possible:
        return 0
    words: list[tuple[int, tuple[int, ...], int]] | None = None
    for span, s in enumerate(texts, start=1):
        keyword_ends = _keyword_ends(s)
        if not keyword_ends or not _worth_a_look(s):
            continue
        if words is None:
            words = _wrote_words(longest, min(possible), max(possible) + _QUOTE_GAP)
        tail = _Tail(s)
        last_paren: int | None = None
        for start, ends, opened in words:
            if not any(e <= start <= e + _QUOTE_GAP for e in keyword_ends):
                continue
            if any(end <= len(s) and tail.ok(end) for end in ends):
                return span
            if opened >= 0:  # "wrote (" … ")" and a valid tail after the ")"
                last_paren = tail.last_paren() if last_paren is None else last_paren
                if opened <= last_paren:
                    return span
    return 0


def _is_quote_header(lines: list[str], index: int) -> int:
    """How many lines the quote header at `index` spans (0 when there is none)."""
    if not _QUOTE_HEADER_START_RE.match(lines[index]):
        return 0
    count = 1
    while count < 4 and index + count < len(lines) and lines[index + count].strip():
        count += 1
    joined = [" ".join(lines[index : index + span]) for span in range(1, count + 1)]
    lead = len(joined[-1]) - len(joined[-1].lstrip())
    return _quote_header([text[lead:].rstrip() for text in joined])


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _FROM_RE.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 5] if line.strip()][:3]
    return sum(1 for line in following if _SENT_RE.match(line)) >= 2


def _next_content(lines: list[str], index: int) -> str:
    for line in lines[index : index + 4]:
        if line.strip():
            return line
    return ""


def extract_reply(text: str, *, html: str | None = None) -> str:
    """`text` without quoted history and signature. `html` is accepted for callers that
    have only an HTML body's text rendering; pass that rendering as `text`."""
    del html  # the plain-text rendering is what we cut; kept for the interface
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:_MAX_LINES]
    kept: list[str] = []
    index = 0
    in_quote = False
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith(">"):
            in_quote = True
            index += 1
            continue
        if _HARD_SEPARATOR_RE.fullmatch(stripped) or _is_outlook_block(lines, index):
            break
        if (kept or in_quote) and _is_signature(line, stripped):
            break
        span = _is_quote_header(lines, index)
        if span:
            if not _next_content(lines, index + span).lstrip().startswith(">"):
                break  # quoted without ">": everything below is history
            index += span
            continue
        if in_quote and not stripped:
            index += 1
            continue
        in_quote = False
        kept.append(line)
        index += 1
    return "\n".join(kept).strip()
