"""Which mail to fetch, and how to recognise a mail seen before: pure functions.

A mail's primary identity is (account, folder, UIDVALIDITY, UID). When the server changes a
folder's UIDVALIDITY every UID is new, so the folder is rescanned and mail already published
is recognised by its Message-ID (or, for mail without one, a hash of its header block), which
the fetcher records in the store's seen keys under `msgid:<folder>` at every publish.
"""

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from postroom_shared.models import Checkpoint

__all__ = [
    "UIDL_NAMESPACE",
    "Scan",
    "SizeSplit",
    "batch_weight",
    "batches",
    "byte_batches",
    "dedupe_key",
    "header_block",
    "msgid_namespace",
    "scan_from",
    "split_by_size",
]

UIDL_NAMESPACE = "uidl"  # seen keys: the UIDLs of POP3 mail published
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_ANGLE = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Scan:
    """Where a folder's fetch starts: after `after_uid`; `rescan` when UIDVALIDITY changed
    since the checkpoint, so published mail must be skipped by Message-ID."""

    after_uid: int
    rescan: bool


def scan_from(checkpoint: Checkpoint | None, uidvalidity: int) -> Scan:
    if checkpoint is None:
        return Scan(after_uid=0, rescan=False)
    if checkpoint.uidvalidity != uidvalidity:
        return Scan(after_uid=0, rescan=True)
    return Scan(after_uid=checkpoint.last_uid, rescan=False)


def batches[T](items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def byte_batches[T](items: list[tuple[T, int]], *, count: int, budget: int) -> Iterator[list[T]]:
    """Consecutive groups of `(item, bytes)` of at most `count` items and `budget` bytes; an
    item heavier than the budget is a group of its own."""
    batch: list[T] = []
    used = 0
    for item, weight in items:
        if batch and (len(batch) >= count or used + weight > budget):
            yield batch
            batch, used = [], 0
        batch.append(item)
        used += weight
    if batch:
        yield batch


def batch_weight(size: int, limit: int) -> int:
    """What a mail of `size` costs a batch: its size, or nothing when only its headers are
    fetched (over the limit)."""
    return size if size <= limit else 0


@dataclass(frozen=True)
class SizeSplit:
    """How each mail of a batch is downloaded, in UID order: `whole` in one request and held
    in memory (up to the inline limit), `streamed` piece by piece into the blob store (up to
    the account's limit), `too_large` not at all (its headers go to the quarantine)."""

    whole: list[int]
    streamed: list[int]
    too_large: list[int]


def split_by_size(sizes: dict[int, int], *, limit: int, inline_max: int) -> SizeSplit:
    ordered = sorted(sizes.items())
    return SizeSplit(
        whole=[uid for uid, size in ordered if size <= min(limit, inline_max)],
        streamed=[uid for uid, size in ordered if inline_max < size <= limit],
        too_large=[uid for uid, size in ordered if size > limit],
    )


def header_block(raw: bytes) -> bytes:
    """The header block of a raw mail (what IMAP's BODY[HEADER] returns)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            return raw[: index + len(sep)]
    return raw


def dedupe_key(headers: bytes) -> str:
    """Message-ID of the mail, or `sha256:<hex>` of its normalised header block when it has
    none (mail with an empty Message-ID exists)."""
    match = _MESSAGE_ID.search(headers)
    if match:
        value = re.sub(r"\s+", "", match.group(1).decode("ascii", "replace"))
        angle = _ANGLE.search(value)
        if angle:
            return angle.group(0)
        if value:
            return value[:998]
    normal = b"\n".join(line.rstrip() for line in headers.splitlines()).strip()
    return "sha256:" + hashlib.sha256(normal).hexdigest()


def msgid_namespace(folder: str) -> str:
    return f"msgid:{folder}"
