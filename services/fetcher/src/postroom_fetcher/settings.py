"""Fetcher settings (`POSTROOM_*`)."""

from pydantic import Field

from postroom_shared.models import MAIL_BYTES_CEILING
from postroom_shared.settings import CommonSettings

__all__ = ["FetcherSettings"]


class FetcherSettings(CommonSettings):
    accounts_refresh_s: float = Field(
        default=10.0,
        gt=0,
        description="How often the list of active accounts is re-read (the fallback:"
        " configuration hints from the API make it re-read at once).",
    )
    inline_max_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        le=8 * 1024 * 1024,
        description="Raw mail up to this size rides in the event; larger goes to the blob store.",
    )
    max_mail_bytes: int = Field(
        default=MAIL_BYTES_CEILING,
        gt=0,
        le=MAIL_BYTES_CEILING,
        description="Ceiling for every account's own max_mail_bytes: larger mail is"
        " quarantined with its headers only.",
    )
    fetch_batch: int = Field(
        default=100, ge=1, le=500, description="Most mails published per batch (checkpoint)."
    )
    fetch_batch_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=64 * 1024,
        description="Most bytes (by the server's sizes) per batch; a larger mail is a batch of"
        " its own.",
    )
    fetch_chunk_bytes: int = Field(
        default=1024 * 1024,
        ge=16 * 1024,
        le=64 * 1024 * 1024,
        description="Mail over inline_max_bytes is downloaded into the blob store in pieces"
        " of this size.",
    )
    fetch_memory_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        description="Mail bytes all accounts of this replica may hold in memory at once;"
        " downloads wait for room.",
    )
    network_timeout_s: float = Field(default=30.0, gt=0)
    replica_id: str | None = Field(
        default=None,
        max_length=200,
        description="Name of this fetcher replica in leases; default: host name + process id.",
    )
    lease_ttl_s: float = Field(
        default=30.0, ge=1, description="An account's fetch lease lasts this long unrenewed."
    )
    lease_renew_s: float = Field(
        default=10.0, gt=0, description="How often held leases are renewed (< lease_ttl_s)."
    )
    max_parallel_fetches: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Accounts downloading at the same time in this replica (IDLE waits do"
        " not count); each account uses one connection at a time.",
    )
    wake_check_s: float = Field(
        default=2.0,
        gt=0,
        description="How often 'fetch now' requests are looked for (the fallback for"
        " the hint that wakes the fetcher at once).",
    )
    idle_reissue_s: float = Field(
        default=25 * 60.0,
        gt=0,
        le=29 * 60.0,
        description="IMAP IDLE is re-issued this often (servers drop it after 30 min).",
    )
    idle_check_s: float = Field(
        default=5.0, gt=0, le=60, description="Slice of an IDLE wait between housekeeping."
    )
    backoff_base_s: float = Field(default=2.0, gt=0, description="First retry of a failure.")
    backoff_permanent_s: float = Field(
        default=60.0, gt=0, description="First retry after a permanent failure (wrong password)."
    )
    backoff_max_s: float = Field(default=900.0, gt=0, description="Longest retry delay.")
    reauth_retry_s: float = Field(
        default=3600.0, gt=0, description="Retry of an account that needs re-authorisation."
    )
    mail_ca_file: str | None = Field(
        default=None, description="Extra CA bundle trusted for mailbox servers (private CAs)."
    )
