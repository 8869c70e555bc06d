"""Blobs on disk addressed by sha256: the embedded store's answer to GridFS.

Files are written to a temporary name and renamed, so a crash never leaves a half blob under a
valid name, and readers in other processes see either nothing or the whole file.
"""

import hashlib
import os
import re
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
