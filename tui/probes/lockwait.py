"""Processes waiting for a blob's lock: `hf download` of a file another process is already fetching.

huggingface_hub waits for `.locks/<repo>/<etag>.lock` through filelock, which tries a non-blocking
`flock` every 50 ms and closes the file in between. The kernel therefore lists no waiter in
/proc/locks, and the waiter has the lock file open only for microseconds at a time. Two steps find it:

1. inotify tells which lock files are being opened again and again (a lock is opened once by
   its holder; a waiter opens it twenty times a second);
2. the open files of likely processes are read in a tight loop for a little over two polling
   periods each, which catches the waiter's brief open.

Python has no inotify binding in the standard library and psutil none at all, hence ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import time
from collections.abc import Collection
from pathlib import Path

_IN_OPEN = 0x20
_IN_CLOSE = 0x08 | 0x10
"""Closes are watched too: inotify merges identical events that follow each other unread, so
open/close pairs keep each open counted."""
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")

POLLED_OPENS = 3
"""Opens of one lock file between two looks that mark it as polled by a waiter."""
SAMPLE_EACH = 0.12
"""Seconds one candidate's open files are read in a loop: over two of filelock's 50 ms polls."""
BUDGET = 0.6
"""Seconds of sampling at most per look; the remaining candidates wait for the next look."""


class LockWatcher:
    """Which lock files under a cache's `.locks` are polled, and by which processes."""

    def __init__(self, cache_dir: Path) -> None:
        self.locks_dir = Path(cache_dir) / ".locks"
        self._fd = _inotify_init()
        self._dirs: dict[str, int] = {}
        self._wd_dirs: dict[int, str] = {}
        self._listed_mtime: int | None = None
        self._waiters: dict[str, set[int]] = {}
        self._pending: dict[str, list[int]] = {}
        """lock → candidates still to sample for it."""

    @property
    def available(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def look(self, holders: dict[str, int], exclude: Collection[int] = ()) -> dict[str, set[int]]:
        """Lock path → pids found waiting for it. `holders` maps held lock paths to their holder."""
        if self._fd is None:
            return {}
        self._watch_new_folders()
        polled = {lock for lock, opens in self._drain().items() if opens >= POLLED_OPENS and lock in holders}
        self._waiters = {
            lock: {pid for pid in pids if _alive(pid)} for lock, pids in self._waiters.items() if lock in polled
        }
        self._pending = {lock: pids for lock, pids in self._pending.items() if lock in polled}
        deadline = time.monotonic() + BUDGET
        for lock in polled:
            if self._waiters.get(lock):
                continue
            if lock not in self._pending:
                skip = {os.getpid(), holders[lock], *exclude}
                self._pending[lock] = [pid for pid in _candidates() if pid not in skip]
            queue = self._pending[lock]
            while queue and time.monotonic() < deadline:
                pid = queue.pop(0)
                if _opens_within(pid, lock, SAMPLE_EACH):
                    self._waiters.setdefault(lock, set()).add(pid)
                    break
        return {lock: set(pids) for lock, pids in self._waiters.items() if pids}

    def _watch_new_folders(self) -> None:
        try:
            mtime = os.stat(self.locks_dir).st_mtime_ns
        except OSError:
            return
        if mtime == self._listed_mtime:
            return
        self._listed_mtime = mtime
        try:
            folders = [e.path for e in os.scandir(self.locks_dir) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for folder in folders:
            if folder in self._dirs:
                continue
            wd = _LIBC.inotify_add_watch(self._fd, os.fsencode(folder), _IN_OPEN | _IN_CLOSE)
            if wd >= 0:
                self._dirs[folder] = wd
                self._wd_dirs[wd] = folder

    def _drain(self) -> dict[str, int]:
        opens: dict[str, int] = {}
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return opens
            except OSError:
                return opens
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                folder = self._wd_dirs.get(wd)
                if folder and mask & _IN_OPEN and name.endswith(b".lock"):
                    path = os.path.join(folder, os.fsdecode(name))
                    opens[path] = opens.get(path, 0) + 1


def _opens_within(pid: int, lock: str, seconds: float) -> bool:
    """True when `pid` has `lock` open at some moment in the next `seconds`."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        base = set(os.listdir(fd_dir))
    except OSError:
        return False
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            now = os.listdir(fd_dir)
        except OSError:
            return False
        for fd in now:
            if fd in base:
                continue
            try:
                if os.readlink(f"{fd_dir}/{fd}") == lock:
                    return True
            except OSError:
                continue
    return False


_HINTS = (b"python", b"hf", b"huggingface", b"transformers", b"diffusers")


def _candidates() -> list[int]:
    """Processes that may run huggingface_hub, the most recently started first."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                command = f.read(4096)
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                started = int(f.read().rsplit(b")", 1)[1].split()[19])
        except (OSError, ValueError, IndexError):
            continue
        if command and any(hint in command for hint in _HINTS):
            found.append((started, int(entry.name)))
    return [pid for _, pid in sorted(found, reverse=True)]


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def _inotify_init() -> int | None:
    if _LIBC is None:
        return None
    fd = _LIBC.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    return fd if fd >= 0 else None
