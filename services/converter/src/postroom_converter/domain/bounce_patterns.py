"""Recognising non-standard bounces: who sends them, what their subjects and bodies say.

Only about a third of real bounces are clean RFC 3464 reports; the rest (qmail, Exim, old
Sendmail, Domino, Exchange 2003, Japanese carriers, Amazon SES notifications, ...) are plain text
written by the MTA. The patterns live here, apart from the decision logic in `bounce_notice.py`
and the recipient extraction in `bounce.py`, so both use exactly the same list and it can grow
with the corpus (tests/fixtures/mail/sisimai) without touching the logic. All regexes are
compiled once.

A pattern is "strong" when it is MTA boilerplate that people do not type themselves; weak
patterns (generic error phrases) only count together with a second sign (`bounce_notice.py`).

Every pattern is linear in its input (a bounce can come from anyone): no two quantifiers compete
for the same characters; where a phrase may follow a run of dashes that the line's leading
run already takes, a look-behind checks the dashes instead (tests/unit/test_pathological.py).
"""

import re

__all__ = [
    "BOUNCE_SUBJECT_RE",
    "FEEDBACK_SUBJECT_RE",
    "MACHINE_SENDER_RE",
    "STRONG_BODY_RE",
    "WEAK_BODY_RE",
]

# The From header (display name and address) of bounce senders. Matched on the whole header
# value, lower-cased, because daemons often send "MAILER-DAEMON <>" or a bare "mailer-daemon".
MACHINE_SENDER_RE = re.compile(
    r"(?:^|[\s<\"'(])(?:mailer[-_.]?daemon|post_?master|poostmaster|double-bounce|mdaemon|"
    r"mail[ .]deliver(?:y)?[ .](?:system|subsystem)|mail\.delivery\.system|"
    r"[a-z0-9._-]+-(?:admin|owner|bounces?)|owner-[a-z0-9._-]+|sysadmin|"
    r"no-?reply|do-?not-?reply)(?:[@\s>\"')]|$)"
    r"|^\s*<>\s*$|<>\s*$",
    re.IGNORECASE,
)

# Subjects MTAs use for bounces and delay warnings, at the start of the subject (so that a
# person's "Fwd: Undeliverable: ..." is not one).
BOUNCE_SUBJECT_RE = re.compile(
    r"^\s*(?:"
    r"undeliver(?:able|ed)\b|returned mail\b|mail delivery (?:failed|failure|system)|"
    r"delivery (?:status notification|failure|notification|has failed|report|status)|"
    r"failure (?:notice|delivery)|failed delivery|delivery failure|permanent delivery failure|"
    r"mail system error|mail could not be delivered|message (?:could not be|not) delivered|"
    r"non[- ]?delivery|nondeliverable|delayed mail|warning: (?:could not send|delayed)|"
    r"delivery delayed|delayed delivery|mail delivery delayed|warning: message \S{1,64} delayed|"
    r"warning: user unknown|"
    r"there was an error sending your mail|returned to sender|undelivered mail|"
    r"postfix smtp server: errors|"
    r"unzustellbar|nicht zustellbar|non remis|non distribuable|no se puede entregar|"
    r"non recapitabile|onbestelbaar|"
    r"メッセージを配信できません|メールエラー通知|"
    r"(?:系统)?退信|邮件(?:投递失败|退回|无法投递)|投递失败|无法投递|未能成功?送达|"
    r"退件通知|(?:郵件)?無法投遞|傳送失敗|"
    r"aws notification message|"
    r"mail failure\b|mail failed\b|"
    r"you \S+ are not member|loop alert"
    r")",
    re.IGNORECASE,
)

# MTA boilerplate, matched at the start of a line (a quoted "> ..." copy is not one), after
# the line's run of " \t*=-" taken whole; the phrases that need dashes right before them
# ("------ the following addresses had") come last and look back for them.
_AFTER_DASHES = r"(?:(?<=-)|(?<=- ))"
STRONG_BODY_RE = re.compile(
    r"^[ \t*=-]*+(?:"
    r"this is the mail system at host|"
    r"this message was created automatically by mail delivery software|"
    r"hi\. this is the (?:qmail-send|deliver) program|"
    r"i'm afraid i wasn't able to deliver your message|"
    r"sorry, we were unable to deliver your message|"
    r"the following addresses had (?:permanent fatal errors|delivery problems|"
    r"transient non-fatal errors)|"
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
    r"\|-+ ?(?:message log|failed addresses) follow|"
    r"a message that you sent contained one or more recipient addresses|"
    r"message delivery has failed|"
    r"your mail sent on: .*|"
    r"could not be delivered to:|"
    r"was not delivered to:|"
    r"this is a delivery status notification|"
    r"message from .+ could not be delivered|"
    r"the following message to <[^>]+> was undeliverable|"
    r"delivery is delayed to these recipients or groups|"
    r"this message hasn't been delivered yet|"
    r"a message that you sent has not yet been delivered to one or more of its|"
    r"抱歉，您的邮件被退回|您的邮件(?:无法|未能)(?:成功)?(?:投递|送达)|"
    r"\{\"notificationtype\":\"(?:bounce|complaint|delivery)\"|"
    rf"{_AFTER_DASHES}the following addresses had|"
    rf"{_AFTER_DASHES}(?:message log|failed addresses) follow|"
    r"(?<=- )this is a copy of your message, including all the headers"
    r")",
    re.IGNORECASE | re.MULTILINE,
)

# Generic error phrases: only evidence together with a daemon sender, a machine sender with a
# null return path, or a bounce subject with a DSN status code.
WEAK_BODY_RE = re.compile(
    r"\b(?:[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}|[45]\.\d\.\d{1,3}\b|"
    r"user unknown|no such user|mailbox (?:is )?(?:full|unavailable)|"
    r"recipient address rejected|could not be delivered|undeliverable|"
    r"delivery (?:failed|failure)|permanent error|host unknown|"
    r"送信できませんでした|配信できません|"
    r"退信|收件人不存在|用户不存在|邮箱不存在|无法投递|投递失败|無法投遞)",
    re.IGNORECASE,
)

# Abuse reports that are not ARF (Hotmail JMRP, some feedback loops).
FEEDBACK_SUBJECT_RE = re.compile(
    r"^\s*+(?:complaint about message from|abuse report\b|[\w ]*abuse report$|"
    r"email feedback report|dmarc forensic report|spamtraphit)",
    re.IGNORECASE,
)
