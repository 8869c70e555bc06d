"""The replier's facade: what other services may call, so they never reach into its modules.

The API uses it to behave exactly like the replier where it must: the same built-in relay
settings (`RelaySettings`, POSTROOM_SMTP_*), the same choice of OAuth provider for the SMTP
server, the same test-mail path, the same template previews in the same sandboxed render
workers, the same reply rules (template limits, loop breaker) and the loop breakers active for
an account, and the ledger key of a team reply's mails (their delivery state). Everything
else in `postroom_replier` is internal and may change without notice.
"""

from postroom_replier.account_breakers import account_breakers
from postroom_replier.outbound import RelaySettings, smtp_oauth_provider
from postroom_replier.preview import Preview, preview_template
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.settings import ReplyRuleSettings
from postroom_replier.smtp_check import SmtpCheckResult, send_test_mail
from postroom_replier.team_reply import ledger_reason as team_reply_ledger_reason

__all__ = [
    "Preview",
    "RelaySettings",
    "ReplyRuleSettings",
    "SmtpCheckResult",
    "TemplateRenderer",
    "account_breakers",
    "preview_template",
    "send_test_mail",
    "smtp_oauth_provider",
    "team_reply_ledger_reason",
]
