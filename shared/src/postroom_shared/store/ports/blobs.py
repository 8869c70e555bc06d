"""The blob port (raw mail, attachments) and what both blob stores share: references, verified
reads and the streaming writer's shape.

A blob is named by the sha256 of its bytes (`sha256:<hex>`), so storing the same bytes twice,
even concurrently, yields one name, and a reader can check what it got: every read is hashed
again and a mismatch raises `BlobCorrupted` instead of returning the bytes. Large mail is
written through a `BlobWriter`, which hashes as it writes and names the blob only at `commit`,
so no half-written blob is ever visible under a name.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from postroom_shared.errors import PermanentError

__all__ = [
    "BlobCorrupted",
    "BlobStore",
    "BlobWriter",
    "StoredBlob",
    "blob_digest",
    "blob_ref",
    "verified",
]

_REF_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


class BlobCorrupted(PermanentError):
    """The bytes stored under a reference do not hash to it (disk or database damage)."""


@dataclass(frozen=True)
class StoredBlob:
    """A committed blob: its reference, size and sha256 (hex)."""

    ref: str
    size: int
    sha256: str


class BlobWriter(Protocol):
    """Bytes in, chunk by chunk; `commit` names the blob, `abort` leaves nothing behind.

    Exactly one of `commit` and `abort` ends a writer; `abort` after a failed `commit`, or
    twice, is harmless.
    """

    async def write(self, data: bytes) -> None: ...
    async def commit(self) -> StoredBlob: ...
    async def abort(self) -> None: ...


class BlobStore(Protocol):
    """Bytes addressed by their sha256: raw mail and attachments."""

    async def put_blob(self, data: bytes) -> str:
        """Store bytes, return their reference; storing the same bytes twice (also at the same
        time, from threads or processes) yields the same reference and no error."""
        ...

    async def open_blob_writer(self) -> BlobWriter:
        """A writer for bytes too large to hold at once: written chunk by chunk, hashed as
        they come, visible under their reference only after `commit`."""
        ...

    async def get_blob(self, ref: str) -> bytes:
        """The bytes for `ref`, hashed again on every read: KeyError when unknown,
        BlobCorrupted when the stored bytes do not match their reference."""
        ...


def blob_ref(digest: str) -> str:
    return f"sha256:{digest}"


def blob_digest(ref: str) -> str:
    """The hex digest inside `ref`; KeyError for anything that is not a blob reference."""
    match = _REF_RE.match(ref)
    if match is None:
        raise KeyError(ref)
    return match.group(1)


def verified(ref: str, data: bytes) -> bytes:
    """`data` if it hashes to `ref`, else BlobCorrupted (never the damaged bytes)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != blob_digest(ref):
        raise BlobCorrupted(
            f"blob {ref} is damaged: its {len(data)} stored bytes hash to sha256:{actual}"
        )
    return data
