"""Request and response models of the API, one module per resource.

Input models (`*In`, `*Patch`) are separate from views (`*View`): secrets go in, never out.
"""

from postroom_api.schemas.accounts import (
    AccountIn,
    AccountPatch,
    AccountStateView,
    AccountView,
    CopyIn,
    FoldersView,
    MailboxErrorView,
    MailboxView,
    OAuthDoneView,
    OAuthStartIn,
    OAuthStartView,
    OAuthView,
    RefreshView,
    WaitingView,
)
from postroom_api.schemas.config import (
    ItemTypeView,
    PersonIn,
    PersonView,
    PreviewIn,
    PreviewView,
    ProjectView,
    TemplateIn,
    TemplateView,
    WorkflowIn,
    WorkflowView,
)
from postroom_api.schemas.items import (
    AttachmentView,
    ItemDetail,
    ItemPage,
    ItemSummary,
    MessageView,
)
from postroom_api.schemas.log import (
    LogEntryView,
    QuarantinePage,
    QuarantineView,
    ReprocessView,
)
from postroom_api.schemas.smtp import SmtpIn, SmtpSettingsView, SmtpView, TestMailIn, TestMailView

__all__ = [
    "AccountIn",
    "AccountPatch",
    "AccountStateView",
    "AccountView",
    "AttachmentView",
    "CopyIn",
    "FoldersView",
    "ItemDetail",
    "ItemPage",
    "ItemSummary",
    "ItemTypeView",
    "LogEntryView",
    "MailboxErrorView",
    "MailboxView",
    "MessageView",
    "OAuthDoneView",
    "OAuthStartIn",
    "OAuthStartView",
    "OAuthView",
    "PersonIn",
    "PersonView",
    "PreviewIn",
    "PreviewView",
    "ProjectView",
    "QuarantinePage",
    "QuarantineView",
    "RefreshView",
    "ReprocessView",
    "SmtpIn",
    "SmtpSettingsView",
    "SmtpView",
    "TemplateIn",
    "TemplateView",
    "TestMailIn",
    "TestMailView",
    "WaitingView",
    "WorkflowIn",
    "WorkflowView",
]
