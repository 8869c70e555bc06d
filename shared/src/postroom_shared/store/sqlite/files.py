"""Blobs on disk addressed by sha256: the embedded store's answer to GridFS.

Layout under the root: a blob lives at `<first 2 hex>/<64 hex>`; files being written are
`.tmp-*` directly in the root (unique per writer, from `mkstemp`), never under a blob's name.
A writer hashes as it writes, fsyncs the file, renames it into place atomically (`os.replace`)
and fsyncs the directory, so a crash never leaves a half blob under a valid name, concurrent
writers of the same bytes (threads or processes) each rename a complete file over the other,
and readers see either nothing or a whole file. Every read is hashed again (`verified`).
A temporary file left by a killed writer is garbage, never a blob.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from postroom_shared.store.ports.blobs import StoredBlob, blob_digest, blob_ref, verified

__all__ = ["TEMP_PREFIX", "FileBlobWriter", "FileBlobs", "ThreadedBlobWriter"]

TEMP_PREFIX = ".tmp-"
type Placer = Callable[[Path, str], None]  # moves a finished temporary file to its blob name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileBlobWriter:
    """One blob being written (blocking); see `ThreadedBlobWriter` for the event loop."""

    def __init__(self, root: Path, place: Placer) -> None:
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=root, prefix=TEMP_PREFIX)
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._size = 0
        self._place = place

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self._size += len(data)

    def commit(self) -> StoredBlob:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
        self._place(self._tmp, digest)
        return StoredBlob(ref=blob_ref(digest), size=self._size, sha256=digest)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class FileBlobs:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, digest: str) -> Path:
        return self._root / digest[:2] / digest

    def _place(self, tmp: Path, digest: str) -> None:
        """Move a complete, fsynced temporary file to its blob name, durably."""
        path = self._path(digest)
        if not path.parent.is_dir():
            path.parent.mkdir(exist_ok=True)
            _fsync_dir(self._root)
        # Atomic, also over a concurrent writer's identical file (or a damaged one: repaired).
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    def writer(self) -> FileBlobWriter:
        return FileBlobWriter(self._root, self._place)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with contextlib.suppress(FileNotFoundError):
            if self._path(digest).stat().st_size == len(data):
                return blob_ref(digest)  # stored already (reads verify the content)
        writer = self.writer()
        try:
            writer.write(data)
            return writer.commit().ref
        except BaseException:
            writer.abort()
            raise

    def get(self, ref: str) -> bytes:
        path = self._path(blob_digest(ref))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(ref) from None
        return verified(ref, data)

    # garbage collection (postroom_shared.retention) ----------------------------------------
    # A blob's mtime is when it was last stored: `touch` renews it whenever a writer finds the
    # blob already there, so the collector never takes a blob somebody just handed out.

    def touch(self, ref: str) -> bool:
        """Mark `ref` as stored now; False when it is not there (store it again)."""
        try:
            os.utime(self._path(blob_digest(ref)))
        except (KeyError, FileNotFoundError):
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
        try:
            path = self._path(blob_digest(ref))
        except KeyError:
            return False
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
        """Remove files that are not blobs (temporaries of writers that died, `.tmp-*` in the
        root, and anything else beside the blobs) older than `cutoff`."""
        removed = 0
        leftovers = [*self._root.glob(f"{TEMP_PREFIX}*"), *self._root.glob("??/*")]
        for path in leftovers:
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


class ThreadedBlobWriter:
    """A `FileBlobWriter` driven from the event loop: each step runs in a worker thread."""

    def __init__(self, writer: FileBlobWriter) -> None:
        self._writer = writer

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._writer.write, data)

    async def commit(self) -> StoredBlob:
        return await asyncio.to_thread(self._writer.commit)

    async def abort(self) -> None:
        await asyncio.to_thread(self._writer.abort)
