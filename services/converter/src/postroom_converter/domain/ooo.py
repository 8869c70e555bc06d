"""Out-of-office and auto-reply wording in many languages.

RFC 3834 headers are missing from many real vacation replies (Apple Mail, older Exchange, web
mailers): the subject is then the only signal, e.g. sisimai's rfc3834-03 "Auto reply: Nyaan".
These patterns decide (a) whether a subject alone proves an automatic reply and (b) whether an
automatic mail is an out-of-office (threaded, never reopens the item) rather than another
auto-reply. Kept apart from `classify.py` so translations can be added without touching logic.
"""

import re

__all__ = [
    "AUTOMATIC_BODY_RE",
    "AUTOMATIC_BODY_WORDS",
    "AUTO_REPLY_PREFIX_RE",
    "OOO_BODY_RE",
    "OOO_WORDS_RE",
    "automatic_body",
]

_OOO = (
    r"out of (?:the )?office|ooo\b|away (?:until|till|from|through)|on (?:vacation|holiday|leave)|"
    r"vacation|holiday|not in the office|"
    r"abwesenheit(?:snotiz)?|abwesend|nicht im b[üu]ro|urlaub|"
    r"absence|absent(?:e)? du bureau|message d'absence|en cong[ée]s?|"
    r"fuera de la oficina|ausente|vacaciones|"
    r"fuori (?:sede|ufficio)|assente|ferie|"
    r"afwezig(?:heid)?|niet aanwezig|vakantie|"
    r"fora do escrit[óo]rio|f[ée]rias|"
    r"fr[åa]nvaro|frav[æa]r(?:ende)?|poissa|ferie|"
    r"nieobecno[śs][ćc]|urlop|nep[řr][íi]tomnost|dovolen[áa]|"
    r"отсутств|в отпуске|不在|休暇|休假"
)
_AUTO = (
    r"auto(?:matic|matisch|matique|matica|mática|matico|matyczna|matická|maattinen)?"
    r"[- ]?(?:reply|response|answer|antwort|antwoord|risposta|respuesta|resposta|"
    r"réponse|reponse|svar|vastaus|odpowied[źz]|odpověď)|"
    r"(?:r[ée]ponse|respuesta|risposta|resposta|odpowied[źz]) autom[aá]ti\w*|"
    r"automatische antwort|automatisch antwoord|automatiskt svar|autosvar|"
    r"автоматический ответ|автоответ|自动回复|自動回覆|自動応答|自動返信"
)

# A subject that starts "Auto reply:", "Automatic reply:", "Out of Office:", "Abwesenheitsnotiz:"
# ... is an automatic reply even without any header saying so.
_OOO_PREFIX = (
    r"out of (?:the )?office|abwesenheitsnotiz|abwesenheit|message d'absence|absent du bureau|"
    r"fuera de la oficina|fuori (?:sede|ufficio)|afwezigheid|fr[åa]nvaro|不在"
)
AUTO_REPLY_PREFIX_RE = re.compile(
    rf"^\s*(?:\[?(?:{_AUTO}|{_OOO_PREFIX})\]?(?:\s*\([^)]*\))?\s*[:：-]|(?:{_AUTO})\s*$)",
    re.IGNORECASE,
)
# Out-of-office wording anywhere in the subject of a mail already known to be automatic.
OOO_WORDS_RE = re.compile(_OOO, re.IGNORECASE)
# ... or in the first lines of its body.
OOO_BODY_RE = re.compile(
    r"out of (?:the )?office|i (?:am|will be) (?:currently )?(?:away|out|on (?:vacation|holiday|"
    r"leave)|travell?ing|absent)|returning (?:to the office )?on|back in the office|"
    r"ich bin (?:bis|vom|ab|derzeit|zurzeit|momentan|nicht)|abwesend|"
    r"je suis (?:absent|en cong)|estoy (?:fuera|ausente|de vacaciones)|sono (?:fuori|assente)|"
    r"ik ben (?:afwezig|met vakantie)",
    re.IGNORECASE,
)

# A body that says of itself that it is an automatic answer: what an auto-responder without any
# automatic-mail header, with a fresh subject and no threading headers still writes ("This is an
# automatic reply", "Dies ist eine automatische Antwort" ...). Only explicit self-descriptions,
# never "out of office" alone: a person may write that, and a mail taken for automatic opens no
# item. Linear: alternatives of literal words joined by single `\s+`, no nested quantifiers.
AUTOMATIC_BODY_RE = re.compile(
    r"\bthis\s+is\s+an\s+(?:auto(?:mat(?:ic|ed)|matically\s+generated|-?generated)\s+"
    r"(?:reply|answer|response|message|notification|e-?mail|confirmation)|"
    r"auto[- ]?(?:reply|response))\b|"
    r"\bthis\s+(?:e-?mail|message|reply|answer)\s+(?:is|was|has\s+been)\s+(?:"
    r"automatically\s+(?:generated|sent|created)|generated\s+automatically|"
    r"sent\s+automatically|an\s+automatic\s+(?:reply|answer|response))\b|"
    r"\bdies\s+ist\s+eine\s+automatisch(?:e|\s+generierte)\s+"
    r"(?:antwort|nachricht|e-?mail|benachrichtigung|abwesenheitsnotiz)\b|"
    r"\bdiese\s+(?:nachricht|e-?mail)\s+wurde\s+automatisch\s+(?:erstellt|generiert|versendet|"
    r"verschickt|gesendet)\b|"
    r"\bceci\s+est\s+une?\s+(?:r[ée]ponse|message|courriel|e-?mail)\s+automatique\b|"
    r"\bce\s+(?:message|courriel)\s+(?:a\s+[ée]t[ée]|est)\s+(?:g[ée]n[ée]r[ée]|envoy[ée])\s+"
    r"automatiquement\b|"
    r"\b(?:esta|[ée]ste|este)\s+es\s+una?\s+(?:respuesta|mensaje|correo)\s+autom[áa]tic[oa]\b|"
    r"\b(?:questa|questo)\s+[èe]\s+una?\s+(?:risposta|messaggio)\s+automatic[oa]\b|"
    r"\bdit\s+is\s+een\s+automatisch(?:\s+gegenereerd)?\s+(?:antwoord|bericht|e-?mail)\b|"
    r"\b(?:esta|este)\s+[ée]\s+uma?\s+(?:resposta|mensagem|e-?mail)\s+autom[áa]tic[oa]\b|"
    r"\bdetta\s+[äa]r\s+ett\s+automatiskt\s+(?:svar|meddelande|genererat)\b|"
    r"\bdette\s+er\s+et\s+automatisk(?:\s+genereret)?\s+(?:svar|meddelelse|melding)\b|"
    r"\bto\s+jest\s+automatyczna\s+(?:odpowied[źz]|wiadomo[śs][ćc])\b|"
    r"это\s+автоматическ(?:ий\s+ответ|ое\s+(?:сообщение|письмо|уведомление))|"
    r"このメールは自動(?:送信|返信|配信|応答)|これは自動(?:返信|応答)|"
    r"这是(?:一封)?自动(?:回复|发送|生成)|此邮件(?:为|是)(?:系统)?自动(?:发送|回复|生成)",
    re.IGNORECASE,
)
# Every alternative of AUTOMATIC_BODY_RE holds one of these words (auto-reply, automatic,
# automatisch, automatique, automático ..., автоматический, 自動, 自动), so a text without any of
# them cannot match: most mail, and the pattern's search, which tries every alternative at every
# position, costs ~0.2 ms on a 2,000-character text where the look for the words costs ~1 µs.
# `casefold()` turns every character the pattern's IGNORECASE takes for a letter of these words
# into that letter (tests/unit/test_automatic_answers.py checks every code point).
AUTOMATIC_BODY_WORDS = ("auto", "автомат", "自動", "自动")


def automatic_body(text: str) -> re.Match[str] | None:
    """`AUTOMATIC_BODY_RE.search(text)`, without the search when no word of it is in `text`."""
    folded = text.casefold()
    if not any(word in folded for word in AUTOMATIC_BODY_WORDS):
        return None
    return AUTOMATIC_BODY_RE.search(text)
