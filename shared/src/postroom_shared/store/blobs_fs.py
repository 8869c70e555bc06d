"""Blobs on disk addressed by sha256: the embedded store's answer to GridFS.

Files are written to a temporary name and renamed, so a crash never leaves a half blob under a
valid name, and readers in other processes see either nothing or the whole file.
"""

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FileBlobs"]

_REF_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


class FileBlobs:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, digest: str) -> Path:
        return self._root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        return f"sha256:{digest}"

    def get(self, ref: str) -> bytes:
        match = _REF_RE.match(ref)
        if match is None:
            raise KeyError(ref)
        try:
            return self._path(match.group(1)).read_bytes()
        except FileNotFoundError:
            raise KeyError(ref) from None

    # garbage collection (postroom_shared.retention) ----------------------------------------
    # A blob's mtime is when it was last stored: `touch` renews it whenever a writer finds the
    # blob already there, so the collector never takes a blob somebody just handed out.

    def touch(self, ref: str) -> bool:
        """Mark `ref` as stored now; False when it is not there (store it again)."""
        match = _REF_RE.match(ref)
        if match is None:
            return False
        try:
            os.utime(self._path(match.group(1)))
        except FileNotFoundError:
            return False
        return True

    def refs_before(self, cutoff: float) -> Iterator[str]:
        """Refs of the blobs last stored before `cutoff` (a POSIX time)."""
        for path in self._root.glob("??/*"):
            if _DIGEST_RE.match(path.name) and _mtime(path) < cutoff:
                yield f"sha256:{path.name}"

    def delete_if_before(self, ref: str, cutoff: float) -> bool:
        """Delete `ref` unless it was stored (or touched) at or after `cutoff`.

        The blob is first renamed away atomically, so a concurrent `touch` either lands
        before (then the renamed file is recent and goes back) or fails (then its writer
        stores the bytes again)."""
        match = _REF_RE.match(ref)
        if match is None:
            return False
        path = self._path(match.group(1))
        doomed = path.with_name(f"{path.name}.gc{os.getpid()}-{uuid.uuid4().hex}")
        try:
            path.rename(doomed)
        except FileNotFoundError:
            return False
        if _mtime(doomed) >= cutoff:
            doomed.replace(path)  # identical bytes if a writer stored them meanwhile
            return False
        doomed.unlink()
        return True

    def delete_stale_temps(self, cutoff: float) -> int:
        """Remove files that are not blobs (temporaries of writers that died) older than
        `cutoff`."""
        removed = 0
        for path in self._root.glob("??/*"):
            if not _DIGEST_RE.match(path.name) and _mtime(path) < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed


_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone meanwhile: never "old"
