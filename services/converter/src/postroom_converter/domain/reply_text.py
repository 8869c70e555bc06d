"""The new part of a reply: the visible text without quoted history and signature.

Separators known from the big clients (Gmail/Apple "On … wrote:" in several languages, also
wrapped over up to three lines; Outlook "From: … Sent: …" header blocks, "-----Original
Message-----" and its translations, the underscore rule; Yahoo "----- Original Message -----";
forwarded-message markers) cut the text. A quote header followed by ">" lines is treated as an
interleaved reply: the quoted lines go, the person's answers between them stay. Signatures
("-- ", "Sent from my iPhone" and translations) end the text. Checked against the talon and
email_reply_parser corpora (tests/unit/test_reply_text_corpus.py). Every regex is compiled once
and each line is looked at a bounded number of times.
"""

import re

__all__ = ["extract_reply"]

_MAX_LINES = 20_000
_WROTE = (
    r"wrote|schrieb|a écrit|a ecrit|escribió|escribio|ha scritto|schreef|escreveu|skrev|"
    r"kirjoitti|napisał|napisal|napsal|írta|yazdı|написал(?:а)?|пишет|écrit|wrote\s*\(.*\)"
)
# "On <date>, <name> wrote:" (and translations), possibly wrapped: matched on up to 4 joined lines.
_QUOTE_HEADER_RE = re.compile(
    rf"^\s*(?:on|am|le|el|il|op|em|den|w dniu|dne|в|el día|\d{{1,4}}[./-])\b.{{0,300}}?"
    rf"(?:{_WROTE})(?:\s.{{0,200}}:)?\s*:?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_QUOTE_HEADER_START_RE = re.compile(
    r"^\s*(?:on|am|le|el|il|op|em|den|w dniu|dne|в|\d{1,4}[./-])\b", re.IGNORECASE
)
# Lines after which everything is history.
_HARD_SEPARATOR_RE = re.compile(
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
# Outlook's header block: "From: …" followed within 3 lines by "Sent:"/"Date:" (and translations).
_FROM_RE = re.compile(
    r"^\s*\*?(?:from|von|de|da|van|från|fra|od|от|expéditeur)\s*\*?\s*:\s*\S", re.IGNORECASE
)
_SENT_RE = re.compile(
    r"^\s*\*?(?:sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|data|verzonden|skickat|"
    r"sendt|wysłano|отправлено|to|an|à|para|a|aan|till|til|subject|betreff|objet|asunto|"
    r"oggetto|onderwerp|ämne|emne)\s*\*?\s*:",
    re.IGNORECASE,
)
_SIGNATURE_RE = re.compile(
    r"^\s*(?:--\s*|—|"
    r"sent from (?:my |a )?\S.{0,60}|sent (?:via|with) .{1,60}|get outlook for .{1,30}|"
    r"von meinem .{1,40} gesendet|gesendet von .{1,40}|envoyé de mon .{1,40}|"
    r"enviado desde mi .{1,40}|enviado do meu .{1,40}|inviato da(?:l mio)? .{1,40}|"
    r"verzonden (?:vanaf|met) .{1,40}|skickat från .{1,40}|"
    r"отправлено с .{1,40})\s*$",
    re.IGNORECASE,
)


def _is_quote_header(lines: list[str], index: int) -> int:
    """How many lines the quote header at `index` spans (0 when there is none)."""
    if not _QUOTE_HEADER_START_RE.match(lines[index]):
        return 0
    for span in range(1, 5):
        if index + span > len(lines) or (span > 1 and not lines[index + span - 1].strip()):
            return 0
        if _QUOTE_HEADER_RE.match(" ".join(lines[index : index + span])):
            return span
    return 0


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
        if _HARD_SEPARATOR_RE.match(line) or _is_outlook_block(lines, index):
            break
        if _SIGNATURE_RE.match(line) and (kept or in_quote):
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
