"""What an account's mailbox answers over HTTP: its folders, the mail waiting to be imported, a
connection test, and the error a mailbox that refused or did not answer turns into (424)."""

from pydantic import BaseModel, Field

__all__ = ["FoldersView", "MailboxErrorView", "RefreshView", "WaitingView"]


class FoldersView(BaseModel):
    folders: list[str] = Field(description="Folder names as the server lists them (decoded).")


class WaitingView(BaseModel):
    waiting: int = Field(description="Messages that activating the account would import.")


class RefreshView(BaseModel):
    ok: bool = Field(description="The connection test passed.")
    error: str | None = Field(default=None, description="Why not, naming the cause.")
    error_kind: str | None = Field(
        default=None, examples=["auth", "tls", "folder", "network", "consent_revoked"]
    )
    fetch_requested: bool = Field(
        description="The fetcher was asked to poll now (active accounts, connection ok)."
    )


class MailboxErrorView(BaseModel):
    detail: str = Field(description="What failed, naming the cause (and what to do).")
    error_kind: str = Field(
        examples=["auth", "tls", "folder", "network", "consent_revoked", "rate_limited"]
    )
    permanent: bool = Field(description="False: trying again later may succeed.")
