"""Whether a huggingface_hub lock file is held by a live process right now."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_is_held(path: Path) -> bool:
    """True when another process holds `flock` on `path` (as huggingface_hub's FileLock does).

    A lock file stays on disk after the download; only a held lock means anything. Taking the
    lock for an instant is how to ask, and it is released at once. A missing file is not held.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
