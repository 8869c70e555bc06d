"""The scopes Postroom asks the identity providers for, apart from the provider modules:
naming a scope must not load msal, google-auth and requests (about 25 MB of a service's memory),
which only an account that signs in with OAuth needs."""

__all__ = ["GOOGLE_SCOPES", "MICROSOFT_APP_SCOPES", "MICROSOFT_SCOPES"]

GOOGLE_SCOPES = ("https://mail.google.com/",)
# delegated access to the signed-in user's mailbox over IMAP and SMTP AUTH (offline_access,
# openid and profile are added by msal)
MICROSOFT_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
)
# app-only: the permissions granted to the app registration itself (IMAP.AccessAsApp)
MICROSOFT_APP_SCOPES = ("https://outlook.office365.com/.default",)
