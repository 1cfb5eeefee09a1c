"""A minimal inotify reader: which files in watched folders were created, moved, deleted or opened.

The standard library has no inotify binding and psutil none at all, hence ctypes. Everything here
degrades to "not available" (callers then poll) when the C library or the kernel says no.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import weakref
from dataclasses import dataclass

IN_ATTRIB, IN_CLOSE_WRITE = 0x04, 0x08
IN_CLOSE = IN_CLOSE_WRITE | 0x10
IN_OPEN = 0x20
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_CHANGES = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")


@dataclass(frozen=True)
class Event:
    folder: str | None
    """The watched folder; None for a queue overflow (events were lost: look at everything again)."""
    name: str
    mask: int


class Inotify:
    def __init__(self) -> None:
        self._fd: int | None = None if _LIBC is None else _LIBC.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self._fd is not None and self._fd < 0:
            self._fd = None
        self._folders: dict[int, str] = {}
        self._watches: dict[str, int] = {}
        # An owner that forgets close() must not leak the descriptor (the kernel allows 128 a user).
        self._finalizer = weakref.finalize(self, close_descriptor, self._fd)

    @property
    def available(self) -> bool:
        return self._fd is not None

    def watch(self, folder: str, mask: int) -> bool:
        """Watch `folder` (again: a no-op); False when the kernel refuses (a limit, no permission)."""
        if self._fd is None or _LIBC is None:  # no descriptor without the C library
            return False
        if folder in self._watches:
            return True
        wd: int = _LIBC.inotify_add_watch(self._fd, os.fsencode(folder), mask)
        if wd < 0:
            return False
        self._watches[folder] = wd
        self._folders[wd] = folder
        return True

    def watching(self, folder: str) -> bool:
        return folder in self._watches

    def events(self) -> list[Event]:
        """Everything that happened since the last call (never blocks)."""
        found: list[Event] = []
        while self._fd is not None:
            try:
                data = os.read(self._fd, 1 << 16)
            except OSError:  # BlockingIOError: nothing more
                break
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                name = os.fsdecode(data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0"))
                offset += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    found.append(Event(None, "", mask))
                    continue
                folder = self._folders.get(wd)
                if mask & IN_IGNORED:  # the folder is gone: its watch went with it
                    self._folders.pop(wd, None)
                    if folder is not None:
                        self._watches.pop(folder, None)
                if folder is not None:
                    found.append(Event(folder, name, mask))
        return found

    def close(self) -> None:
        self._finalizer()
        self._fd = None


def close_descriptor(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def load_libc(**argtypes: list[type]) -> ctypes.CDLL | None:
    """The C library with `argtypes` set on the named functions; None when it or one of them is missing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        for name, types in argtypes.items():
            getattr(libc, name).argtypes = types
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = load_libc(inotify_init1=[ctypes.c_int], inotify_add_watch=[ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32])
