"""Free space on the filesystem that holds (or will hold) the cache."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskSpace:
    path: Path
    """The folder actually measured: the cache, or its nearest existing parent."""
    total: int
    free: int


def disk_space(cache_dir: Path) -> DiskSpace | None:
    path = Path(cache_dir).absolute()
    for candidate in (path, *path.parents):
        try:
            usage = shutil.disk_usage(candidate)
        except OSError:
            continue
        return DiskSpace(path=candidate, total=usage.total, free=usage.free)
    return None
