"""Which process opened a file: fanotify, where the kernel allows it (it needs CAP_SYS_ADMIN).

inotify says a lock file is opened twenty times a second, not by whom; fanotify's events carry the
opener's pid. Without the privilege (the usual case for a user), `available` is False and callers
fall back to looking at processes' open files.
"""

from __future__ import annotations

import ctypes
import os
import struct
import weakref
from dataclasses import dataclass

from tui.probes.inotify import close_descriptor, load_libc

_FAN_CLASS_NOTIF = 0x0
_FAN_CLOEXEC = 0x1
_FAN_NONBLOCK = 0x2
_FAN_MARK_ADD = 0x1
_FAN_OPEN = 0x20
_FAN_Q_OVERFLOW = 0x4000
_FAN_EVENT_ON_CHILD = 0x08000000
_AT_FDCWD = -100
_METADATA = struct.Struct("IBBHQii")
"""struct fanotify_event_metadata: event_len, vers, reserved, metadata_len, mask, fd, pid."""


@dataclass(frozen=True)
class Open:
    path: str
    pid: int


class OpenWatch:
    """Opens of the files in watched folders, with the pid that opened each."""

    def __init__(self) -> None:
        fd = -1
        if _LIBC is not None:
            flags = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_LARGEFILE", 0)
            fd = _LIBC.fanotify_init(_FAN_CLASS_NOTIF | _FAN_CLOEXEC | _FAN_NONBLOCK, flags)
        self._fd: int | None = fd if fd >= 0 else None
        self._folders: set[str] = set()
        self._finalizer = weakref.finalize(self, close_descriptor, self._fd)

    @property
    def available(self) -> bool:
        return self._fd is not None

    def watch(self, folder: str) -> bool:
        """Report opens of the files directly in `folder` (again: a no-op); False when refused."""
        if self._fd is None or _LIBC is None:
            return False
        if folder in self._folders:
            return True
        mask = _FAN_OPEN | _FAN_EVENT_ON_CHILD
        if _LIBC.fanotify_mark(self._fd, _FAN_MARK_ADD, mask, _AT_FDCWD, os.fsencode(folder)) != 0:
            return False
        self._folders.add(folder)
        return True

    def opens(self) -> list[Open]:
        """Every open since the last call (never blocks). The kernel merges repeats left unread."""
        found: list[Open] = []
        while self._fd is not None:
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError:  # BlockingIOError: nothing more
                break
            offset = 0
            while offset + _METADATA.size <= len(data):
                length, _, _, _, mask, fd, pid = _METADATA.unpack_from(data, offset)
                offset += max(length, _METADATA.size)
                if fd < 0:
                    continue
                try:
                    if not mask & _FAN_Q_OVERFLOW:
                        found.append(Open(os.readlink(f"/proc/self/fd/{fd}"), pid))
                except OSError:
                    pass
                finally:
                    os.close(fd)  # each event holds the opened file open for the reader
        return found

    def close(self) -> None:
        self._finalizer()
        self._fd = None


_LIBC = load_libc(
    fanotify_init=[ctypes.c_uint, ctypes.c_uint],
    fanotify_mark=[ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p],
)
