"""Out-of-office and auto-reply wording in many languages.

RFC 3834 headers are missing from many real vacation replies (Apple Mail, older Exchange, web
mailers): the subject is then the only signal, e.g. sisimai's rfc3834-03 "Auto reply: Nyaan".
These patterns decide (a) whether a subject alone proves an automatic reply and (b) whether an
automatic mail is an out-of-office (threaded, never reopens the item) rather than another
auto-reply. Kept apart from `classify.py` so translations can be added without touching logic.
"""

import re

__all__ = ["AUTO_REPLY_PREFIX_RE", "OOO_BODY_RE", "OOO_WORDS_RE"]

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
