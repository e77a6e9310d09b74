"""The media archive: bytes stored by their sha256 behind one small interface (disk now, object storage later)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from monitor.core.errors import MonitorError

_SHA = re.compile(r"^[0-9a-f]{64}$")


class ArchiveError(MonitorError):
    """The archive could not store or read a file."""


class Archive(Protocol):
    """Content-addressed storage: put bytes, get them back by sha256, delete, list."""

    def put(self, data: bytes) -> str:
        """Store the bytes (idempotent); returns their sha256."""
        ...

    def get(self, sha256: str) -> bytes:
        """The stored bytes; NotFound-like ArchiveError when absent."""
        ...

    def has(self, sha256: str) -> bool:
        """Whether the bytes are stored."""
        ...

    def delete(self, sha256: str) -> bool:
        """Remove the bytes; False when they were not there."""
        ...

    def list(self, written_before: float | None = None) -> Iterator[str]:
        """The stored digests (only those written before the given epoch time, when given)."""
        ...


def check_sha(sha256: str) -> str:
    """The digest, validated (so it can never name a path outside the archive)."""
    if not _SHA.match(sha256):
        raise ArchiveError(f"not a sha256 digest: {sha256[:80]!r}")
    return sha256


class DiskArchive:
    """Files under `root/ab/cd/<sha256>`, written atomically (temp file + rename), readable only by the service."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    def path(self, sha256: str) -> Path:
        """Where the file of a digest lives."""
        sha = check_sha(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, data: bytes) -> str:
        """Store the bytes (idempotent); returns their sha256."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as e:
            raise ArchiveError(f"cannot write {target}: {e.strerror or e}") from e
        return sha

    def get(self, sha256: str) -> bytes:
        """The stored bytes; ArchiveError when absent."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"archived file {sha256} is not in the archive") from None
        except OSError as e:
            raise ArchiveError(f"cannot read archived file {sha256}: {e.strerror or e}") from e

    def has(self, sha256: str) -> bool:
        """Whether the bytes are stored."""
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> bool:
        """Remove the bytes; False when they were not there."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self, written_before: float | None = None) -> Iterator[str]:
        """The stored digests written before an epoch time (a fetch in flight writes before it commits)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if _SHA.match(path.name) and (written_before is None or path.stat().st_mtime <= written_before):
                yield path.name
