"""Request and response models of the API, one module per resource.

Input models (`*In`, `*Patch`) are separate from views (`*View`): secrets go in, never out.
"""

from postroom_api.schemas.account_views import AccountStateView, AccountView, MailboxView
from postroom_api.schemas.accounts import AccountIn, AccountPatch, CopyIn
from postroom_api.schemas.config import (
    DraftPreviewIn,
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
    ItemState,
    ItemSummary,
    MessageView,
)
from postroom_api.schemas.log import (
    LogEntryView,
    QuarantinePage,
    QuarantineView,
    ReprocessView,
)
from postroom_api.schemas.mailbox import FoldersView, MailboxErrorView, RefreshView, WaitingView
from postroom_api.schemas.oauth import (
    OAuthDoneView,
    OAuthStartIn,
    OAuthStartView,
    OAuthView,
)
from postroom_api.schemas.smtp import SmtpIn, SmtpSettingsView, SmtpView, TestMailIn, TestMailView

__all__ = [
    "AccountIn",
    "AccountPatch",
    "AccountStateView",
    "AccountView",
    "AttachmentView",
    "CopyIn",
    "DraftPreviewIn",
    "FoldersView",
    "ItemDetail",
    "ItemPage",
    "ItemState",
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
