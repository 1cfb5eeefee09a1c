"""Processes waiting for a blob's lock: `hf download` of a file another process is already fetching.

huggingface_hub waits for `.locks/<repo>/<etag>.lock` through filelock, which tries a non-blocking
`flock` every 50 ms and closes the file in between. The kernel therefore lists no waiter in
/proc/locks, and the waiter has the lock file open only for microseconds at a time. Two steps find it:

1. inotify tells which lock files are being opened again and again (a lock is opened once by
   its holder; a waiter opens it twenty times a second);
2. fanotify, where the kernel allows it (CAP_SYS_ADMIN), names the process behind each open: the
   waiter is known by what it does, at the next look. Elsewhere the processes that wake twenty times
   a second (filelock's polls) are watched first, together, and then the others one by one: each
   one's lowest free descriptor is read in a tight loop, which catches the waiter's brief open.

"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path

from tui.probes.fanotify import OpenWatch
from tui.probes.inotify import IN_CLOSE, IN_OPEN, Inotify
from tui.probes.owner import alive

_MASK = IN_OPEN | IN_CLOSE
"""Closes are watched too: inotify merges identical events that follow each other unread, so
open/close pairs keep each open counted."""

POLLED_OPENS = 3
"""Opens of one lock file between two looks that mark it as polled by a waiter."""
SAMPLE_EACH = 0.35
"""Seconds one candidate's open files are read in a loop: seven of filelock's 50 ms polls, as a busy machine
delays some of them."""
SAMPLE_POLLING = 0.75
"""Seconds for the candidates seen waking as a waiter does, sampled together: on a busy machine a loop
catches the brief open only at some polls, and may miss them all for a second."""
POLLING_TRIES = 4
"""Times they are sampled before the others, across looks, before they count as not waiting."""
BUDGET = 1.5
"""Seconds of sampling at most per look; the remaining candidates wait for the next look."""
REST = 30.0
"""Seconds a polled lock is left alone after two passes over every candidate found no waiter."""
POLL_MEMORY = 2.0
"""Seconds a lock counts as polled after its opens were last counted: two looks in quick succession
see few opens between them, and must not forget the waiter the first one found."""


class LockWatcher:
    """Which lock files under a cache's `.locks` are polled, and by which processes."""

    def __init__(self, cache_dir: Path) -> None:
        self.locks_dir = Path(cache_dir) / ".locks"
        self._inotify = Inotify()
        self._openers = OpenWatch()
        self._opened_by: dict[str, dict[int, float]] = {}
        """lock → pid → when fanotify last saw that process open it (monotonic)."""
        self._listed_mtime: int | None = None
        self._waiters: dict[str, set[int]] = {}
        self._resting: dict[str, float] = {}
        """lock → until when it is not sampled again, after every candidate was looked at in vain."""
        self._pending: dict[str, list[tuple[tuple[int, ...], float, int]]] = {}
        """lock → (pids sampled together, seconds to sample them, tries left) still to sample for it."""
        self._polled_at: dict[str, float] = {}
        """lock → when its opens last showed a waiter polling it (monotonic)."""

    def close(self) -> None:
        self._inotify.close()
        self._openers.close()

    def look(self, holders: dict[str, int], exclude: Collection[int] = ()) -> dict[str, set[int]]:
        """Lock path → pids found waiting for it. `holders` maps held lock paths to their holder."""
        if not self._inotify.available:
            return {}
        self._watch_new_folders()
        now = time.monotonic()
        for lock, opens in self._drain().items():
            if opens >= POLLED_OPENS:
                self._polled_at[lock] = now
        self._polled_at = {lock: at for lock, at in self._polled_at.items() if now - at < POLL_MEMORY}
        polled = {lock for lock in self._polled_at if lock in holders}
        if self._openers.available:
            return self._openers_of(polled, holders, exclude, now)
        self._waiters = {
            lock: {pid for pid in pids if alive(pid)} for lock, pids in self._waiters.items() if lock in polled
        }
        self._pending = {lock: pids for lock, pids in self._pending.items() if lock in polled}
        deadline = time.monotonic() + BUDGET
        for lock in polled:
            if self._waiters.get(lock):
                continue
            if time.monotonic() < self._resting.get(lock, 0.0):
                continue
            skip = {os.getpid(), holders[lock], *exclude}
            passes = 0
            while time.monotonic() < deadline:
                if not self._pending.get(lock):  # every candidate looked at: again, a busy waiter may have been late
                    passes += 1
                    self._pending[lock] = [
                        (kept, seconds, tries)
                        for pids, seconds, tries in _candidates()
                        if (kept := tuple(pid for pid in pids if pid not in skip))
                    ]
                    if passes > 2 or not self._pending[lock]:
                        # Nobody hftop may look at (hftop's own download, another user's process):
                        # the lock stays polled, so rest instead of sampling every refresh.
                        self._resting[lock] = time.monotonic() + REST
                        break
                pids, seconds, tries = self._pending[lock].pop(0)
                if (opener := _opener_within(pids, lock, seconds)) is not None:
                    self._waiters.setdefault(lock, set()).add(opener)
                    break
                if tries > 1:  # they wake as a waiter does: again, before the others
                    self._pending[lock].insert(0, (pids, seconds, tries - 1))
        return {lock: set(pids) for lock, pids in self._waiters.items() if pids}

    def _openers_of(
        self, polled: set[str], holders: dict[str, int], exclude: Collection[int], now: float
    ) -> dict[str, set[int]]:
        """The processes fanotify saw opening each polled lock lately, its holder and hftop aside."""
        for opened in self._openers.opens():
            if opened.path.endswith(".lock"):
                self._opened_by.setdefault(opened.path, {})[opened.pid] = now
        self._opened_by = {
            lock: recent
            for lock, pids in self._opened_by.items()
            if (recent := {pid: at for pid, at in pids.items() if now - at < POLL_MEMORY})
        }
        found = {}
        for lock in polled:
            skip = {os.getpid(), holders[lock], *exclude}
            pids = {pid for pid in self._opened_by.get(lock, {}) if pid not in skip and alive(pid)}
            if pids:
                found[lock] = pids
        return found

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
            self._inotify.watch(folder, _MASK)
            self._openers.watch(folder)

    def _drain(self) -> dict[str, int]:
        opens: dict[str, int] = {}
        for event in self._inotify.events():
            if event.folder and event.mask & IN_OPEN and event.name.endswith(".lock"):
                path = os.path.join(event.folder, event.name)
                opens[path] = opens.get(path, 0) + 1
        return opens


def _opener_within(pids: tuple[int, ...], lock: str, seconds: float) -> int | None:
    """The first of `pids` seen with `lock` open in the next `seconds`; None when none is.

    A waiter holds the lock file open for microseconds per try, under the lowest free descriptor number
    (the kernel hands out the lowest), so that one descriptor of each process is read in a tight loop; the
    whole list of descriptors is read now and then, for an opener that gets another number."""
    end = time.monotonic() + seconds
    live = list(pids)
    while live and time.monotonic() < end:
        probes = []
        for pid in list(live):
            fd_dir = f"/proc/{pid}/fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                live.remove(pid)  # it ended
                continue
            for fd in fds:
                try:
                    if os.readlink(f"{fd_dir}/{fd}") == lock:
                        return pid
                except OSError:
                    continue
            taken = set(fds)
            probes.append((pid, f"{fd_dir}/{next(n for n in range(len(taken) + 1) if str(n) not in taken)}"))
        for _ in range(PROBES // max(1, len(probes))):
            for pid, probe in probes:
                try:
                    if os.readlink(probe) == lock:
                        return pid
                except OSError:
                    continue
    return None


PROBES = 2000
"""Reads of the lowest free descriptors between two readings of the whole lists (a few milliseconds)."""


_HINTS = (b"python", b"hf", b"huggingface", b"transformers", b"diffusers")


def _candidates() -> list[tuple[tuple[int, ...], float, int]]:
    """Processes that may run huggingface_hub, in groups sampled together, each with the seconds to sample
    it and how many times: first those that woke again and again over WAKE_SAMPLE seconds, all at once (a
    waiter sleeps 50 ms between tries; idle and busy processes do not wake so), then the others one by one,
    the most recently started first."""
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
    before = {pid: _wakes(pid) for _, pid in found}
    time.sleep(WAKE_SAMPLE)
    polling = {pid for _, pid in found if _wakes(pid) - before[pid] >= POLLING_WAKES}
    ordered = [pid for _, pid in sorted(found, reverse=True)]
    groups: list[tuple[tuple[int, ...], float, int]] = [
        ((pid,), SAMPLE_EACH, 1) for pid in ordered if pid not in polling
    ]
    if polling:
        groups.insert(0, (tuple(pid for pid in ordered if pid in polling), SAMPLE_POLLING, POLLING_TRIES))
    return groups


WAKE_SAMPLE = 0.25
"""Seconds over which candidates' wake-ups are counted: five of filelock's 50 ms polls."""
POLLING_WAKES = 3
"""Wake-ups in WAKE_SAMPLE seconds that mark a process as polling."""


def _wakes(pid: int) -> int:
    """Times the threads of `pid` went to sleep of their own accord so far (their voluntary context
    switches): a process polling a lock every 50 ms adds twenty a second."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total
