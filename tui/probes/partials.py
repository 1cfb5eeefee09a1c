"""Partial files under the cache, and which process (if any) is writing each of them.

Any program's download shows here: huggingface_hub writes `<repo>/blobs/<etag>.<8 hex>.incomplete`
(older clients `<etag>.incomplete`) whoever calls it, and holds `.locks/<repo>/<etag>.lock`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from tui.core.downloads import KeptMark
from tui.probes.disk import disk_space
from tui.probes.inotify import IN_CHANGES, Inotify
from tui.probes.tcpinfo import SocketCounters, established_sockets

_PREFIXES = {"models--": "model", "datasets--": "dataset", "spaces--": "space", "kernels--": "kernel"}
_SUFFIX = ".incomplete"

KEPT_ATTRIBUTE = "user.hftop.kept"
"""The extended attribute hftop sets on a partial file whose bytes it kept when its own download ended
(cancelled, or failed): JSON `{"why", "at", "message"}`. On the file itself, so `hftop doctor`, or the
dashboard started again, tells it from a dead writer's orphan."""

FULL_SCAN_AGE = 600.0
"""Seconds after its last write that a partial with a free lock still gets every process looked at."""


@dataclass(frozen=True)
class OwnerProcess:
    """A live process that has a partial file open."""

    pid: int
    command: str
    status: str
    """psutil's status: running, sleeping, disk-sleep, stopped, zombie..."""
    remotes: tuple[str, ...] = ()
    """`host:port` of its established TCP connections: where its bytes come from."""
    sockets: frozenset[int] | None = None
    """Inodes of the sockets it has open; None when its open files cannot be read."""
    started: float | None = None
    """When it started (epoch seconds)."""
    cpu_seconds: float | None = None
    """CPU time it has used so far (user + system)."""
    cpu_wait_seconds: float | None = None
    """Time its threads spent ready to run but waiting for a CPU so far (the kernel's schedstat)."""
    xet_cpu: tuple[float, float] | None = None
    """(CPU time, time waiting for a CPU) so far of hf_xet's own threads (named hf-xet-N), if it has any:
    the work of its downloads, apart from the rest of the program's."""


@dataclass(frozen=True)
class PartialFile:
    """One partial download file as seen at one moment."""

    path: Path
    repo_type: str
    repo_id: str
    etag: str
    real_bytes: int
    """Bytes really on disk: `min(st_size, st_blocks * 512)`, as Xet writes sparse files."""
    modified: float
    """When it was last written (st_mtime)."""
    file_name: str | None
    """The file's path in the repo, from `trees/<commit>.json` when snapshot_download left one."""
    expected_size: int | None
    commit: str | None
    """The commit whose tree listed the file (so the same file can be fetched again)."""
    owners: tuple[OwnerProcess, ...]
    """Live processes that have the file open (none: its writer is gone)."""
    lock_holder: int | None
    """The pid holding `.locks/<repo>/<etag>.lock`, when one does (0: a process in another pid namespace)."""
    taken_over: bool = False
    """Its lock is held by a local process that writes another partial of the same blob: this file's
    own writer is gone (the process that waited for the lock took over)."""
    free_bytes: int | None = None
    """Free space on the file's filesystem for an unprivileged writer."""
    net_bytes: int | None = None
    """Bytes received on the writer's established TCP sockets, when it writes no other partial file."""
    net_idle: float | None = None
    """Seconds since data last arrived on any of them."""
    connections: int | None = None
    """How many established TCP connections the writer has; None when unknown."""
    shared_sockets: tuple[SocketCounters, ...] = ()
    """The writer's sockets when it writes several partial files at once (snapshot_download's
    workers): which one carries this file is for the caller to work out."""
    sockets: tuple[SocketCounters, ...] = ()
    """The writer's established TCP sockets, one by one (to count bytes across connections that
    close and open, as hf_xet's do)."""
    kept: KeptMark | None = None
    """hftop's mark (KEPT_ATTRIBUTE), read on a file no process has open."""


class PartialFinder:
    """Finds partial files each refresh without listing every `blobs/` folder every time.

    inotify says which `blobs/` folders had files created, renamed or deleted since the last look;
    only those are listed again, and the partial files known in them are stat'ed (their growth).
    On a 100,000-file cache that is a few stats a refresh instead of 100,000 directory entries.
    Where inotify is refused (no support, the watch limit), a folder is listed again when its
    mtime moved, which costs a stat of every `blobs/` folder each refresh.
    """

    def __init__(self) -> None:
        self._inotify = Inotify()
        self._root: str | None = None
        self._repos: dict[str, tuple[str, str]] | None = None
        """repo folder → (repo type, repo id); None: the cache folder must be listed again."""
        self._names: dict[str, tuple[str, ...]] = {}
        """blobs folder → the partial file names in it, as last listed."""
        self._mtimes: dict[str, int] = {}
        """blobs folder without a watch → its mtime when last listed."""
        self._dirty: set[str] = set()
        self._locks = LockTable()

    def close(self) -> None:
        self._inotify.close()

    def find(self, cache_dir: Path) -> tuple[PartialFile, ...]:
        """Every partial file under the cache with its writer, if alive."""
        return _describe(Path(cache_dir), self._locate(os.fspath(cache_dir)), self._locks)

    def _locate(self, root: str) -> list[tuple[Path, str, str, str, os.stat_result]]:
        if root != self._root:
            self._root, self._repos, self._names, self._mtimes, self._dirty = root, None, {}, {}, set()
        for event in self._inotify.events():
            if event.folder is None:  # events were lost: look at everything again
                self._repos, self._names = None, {}
            elif event.folder == root:
                self._repos = None
            else:
                self._dirty.add(event.folder)
        if self._repos is None or not self._inotify.watching(root):
            self._repos = self._list_repos(root)
        found: list[tuple[Path, str, str, str, os.stat_result]] = []
        for repo, (repo_type, repo_id) in self._repos.items():
            blobs = repo + "/blobs"
            names = self._partial_names(blobs)
            for name in names:
                path = blobs + "/" + name
                try:
                    st = os.stat(path, follow_symlinks=False)
                except OSError:
                    continue
                found.append((Path(path), repo_type, repo_id, name[: -len(_SUFFIX)].split(".")[0], st))
        return found

    def _list_repos(self, root: str) -> dict[str, tuple[str, str]]:
        self._inotify.watch(root, IN_CHANGES)  # before listing: nothing created in between is missed
        repos: dict[str, tuple[str, str]] = {}
        try:
            entries = list(os.scandir(root))
        except OSError:
            return repos
        for entry in entries:
            repo_type = next((t for p, t in _PREFIXES.items() if entry.name.startswith(p)), None)
            if repo_type is not None:
                repos[entry.path] = (repo_type, entry.name.split("--", 1)[1].replace("--", "/"))
        self._names = {b: n for b, n in self._names.items() if b[: -len("/blobs")] in repos}
        return repos

    def _partial_names(self, blobs: str) -> tuple[str, ...]:
        known = self._names.get(blobs)
        if known is not None and self._inotify.watching(blobs) and blobs not in self._dirty:
            return known
        self._dirty.discard(blobs)
        watched = self._inotify.watch(blobs, IN_CHANGES)
        if not watched:  # no watch: list again only when the folder's mtime moved
            try:
                mtime = os.stat(blobs).st_mtime_ns
            except OSError:
                return ()
            if known is not None and self._mtimes.get(blobs) == mtime:
                return known
            self._mtimes[blobs] = mtime
        try:
            names = tuple(n for n in os.listdir(blobs) if n.endswith(_SUFFIX))
        except OSError:
            # Not there yet (a repo folder just created): look again next time.
            self._names.pop(blobs, None)
            return ()
        self._names[blobs] = names
        return names


def lock_path(cache_dir: Path, partial: Path, etag: str) -> Path:
    """The lock huggingface_hub holds while it writes this partial file."""
    return Path(cache_dir) / ".locks" / partial.parent.parent.name / f"{etag}.lock"


def owner_process(pid: int) -> OwnerProcess | None:
    """A live process's command line and state (None when it is gone)."""
    return _owner(pid, None)


def find_partials(cache_dir: Path) -> tuple[PartialFile, ...]:
    """Every partial file under the cache with its writer, if alive (a one-off look)."""
    return PartialFinder().find(cache_dir)


def _describe(
    cache_dir: Path, found: list[tuple[Path, str, str, str, os.stat_result]], lock_table: LockTable | None = None
) -> tuple[PartialFile, ...]:
    if not found:
        return ()
    lock_of = {path: lock_path(cache_dir, path, etag) for path, _, _, etag, _ in found}
    locks = (lock_table or LockTable()).holders(set(map(str, lock_of.values())), {str(p) for p in lock_of})
    # huggingface_hub holds the blob's lock for the whole download, so the lock holder's open files
    # are enough. Every process is looked at only for a partial whose lock is free but which was
    # written lately: a writer on a filesystem where flock does nothing, or one that just died.
    now = time.time()
    held = {str(p): locks[str(lock_of[p])] for p, *_ in found if str(lock_of[p]) in locks}
    unheld_recent = {str(p): st for p, _, _, _, st in found if str(p) not in held and now - st.st_mtime < FULL_SCAN_AGE}
    table = lock_table or LockTable()
    sweep = table.needs_sweep(unheld_recent)
    pids = None if sweep else set(held.values()) | table.writers_of(unheld_recent)
    owners = _open_by(set(held) | set(unheld_recent), pids=pids)
    if sweep:
        table.swept(unheld_recent, owners)
    taken_over = set()
    for held_path, holder in held.items():
        if held_path in owners or holder <= 0:
            continue
        targets = open_files(str(holder))
        real = os.path.realpath(held_path)  # a process's descriptors name the real path
        blob = os.path.join(os.path.dirname(real), os.path.basename(real).split(".")[0] + ".")
        if any(t.startswith(blob) and t.endswith(_SUFFIX) and t != real for t in targets):
            # The holder writes another partial of the same blob: it took the lock over from the writer
            # of this one, who is gone.
            taken_over.add(held_path)
        elif (owner := _owner(holder, _sockets(targets) if targets else None)) is not None:
            # Still the holder's: huggingface_hub closes a finished partial before it renames it, under the
            # lock; and a holder whose open files hftop may not read (another user's process) owns it too.
            owners[held_path] = [owner]
    files_of: dict[int, int] = {}
    for listed in owners.values():
        for owner in listed:
            files_of[owner.pid] = files_of.get(owner.pid, 0) + 1
    counters = established_sockets() if any(o.sockets for listed in owners.values() for o in listed) else {}
    names: dict[Path, dict[str, tuple[str, int, str]]] = {}
    free: dict[Path, int | None] = {}
    result = []
    for path, repo_type, repo_id, etag, st in found:
        repo_folder = path.parent.parent
        if repo_folder not in names:
            names[repo_folder] = names_by_etag(repo_folder)
            free[repo_folder] = _free_bytes(path.parent)
        name, size, commit = names[repo_folder].get(etag, (None, None, None))
        writers = tuple(_with_remotes(o, counters) for o in owners.get(str(path), ()))
        net = _network(writers[0], counters, files_of) if writers else (None, None, None, (), ())
        result.append(
            PartialFile(
                path=path,
                repo_type=repo_type,
                repo_id=repo_id,
                etag=etag,
                real_bytes=min(st.st_size, st.st_blocks * 512),
                modified=st.st_mtime,
                file_name=name,
                expected_size=size,
                commit=commit,
                owners=writers,
                lock_holder=locks.get(str(lock_of[path])),
                taken_over=str(path) in taken_over,
                free_bytes=free[repo_folder],
                net_bytes=net[0],
                net_idle=net[1],
                connections=net[2],
                shared_sockets=net[3],
                sockets=net[4],
                kept=None if writers else kept_mark(path),
            )
        )
    return _one_name_each(result, [st for *_, st in found])


def kept_mark(path: Path) -> KeptMark | None:
    """hftop's mark on a partial file whose bytes it kept; None without one (or where the filesystem keeps
    no extended attributes, or the mark is not hftop's JSON)."""
    try:
        data = json.loads(os.getxattr(path, KEPT_ATTRIBUTE))
        return KeptMark(str(data["why"]), float(data["at"]), str(data.get("message", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _one_name_each(partials: list[PartialFile], stats: list[os.stat_result]) -> tuple[PartialFile, ...]:
    """One entry per file: a partial with a second name (the hard link hftop keeps so that a download's bytes
    outlive its cleanup) shows once, under the name its writer has open while one does, else the first."""
    by_inode: dict[tuple[int, int], list[PartialFile]] = {}
    for partial, st in zip(partials, stats, strict=True):
        by_inode.setdefault((st.st_dev, st.st_ino), []).append(partial)
    if len(by_inode) == len(partials):
        return tuple(partials)
    return tuple(
        next((n for n in names if n.owners), None) or min(names, key=lambda n: str(n.path))
        for names in by_inode.values()
    )


def _with_remotes(owner: OwnerProcess, counters: dict[int, SocketCounters] | None) -> OwnerProcess:
    if not owner.sockets or not counters:
        return owner
    remotes = sorted({counters[i].remote for i in owner.sockets if i in counters})
    return replace(owner, remotes=tuple(remotes))


def _network(
    owner: OwnerProcess, counters: dict[int, SocketCounters] | None, files_of: dict[int, int]
) -> tuple[int | None, float | None, int | None, tuple[SocketCounters, ...], tuple[SocketCounters, ...]]:
    """(bytes received, seconds idle, connections, shared sockets, sockets) of the writer's sockets.
    Bytes and idle time are given only when the writer has this one partial file open; otherwise its
    sockets are handed over whole, to be shared out among its files."""
    if owner.sockets is None or counters is None:
        return None, None, None, (), ()
    mine = tuple(counters[i] for i in owner.sockets if i in counters)
    if not mine:
        return None, None, 0, (), ()
    if files_of.get(owner.pid, 0) > 1:
        return None, None, len(mine), mine, mine
    return sum(c.bytes_received for c in mine), min(c.idle_ms for c in mine) / 1000, len(mine), (), mine


def _free_bytes(folder: Path) -> int | None:
    space = disk_space(folder)
    return None if space is None else space.free


def names_by_etag(repo_folder: Path) -> dict[str, tuple[str, int, str]]:
    """etag → (path in repo, size, commit) from the tree listings snapshot_download caches."""
    names: dict[str, tuple[str, int, str]] = {}
    try:
        trees = list((repo_folder / "trees").glob("*.json"))
    except OSError:
        return names
    for tree in trees:
        try:
            files = json.loads(tree.read_text()).get("files", {})
        except (OSError, ValueError, AttributeError):
            continue  # a tree being written, or not one of ours: the names are a nicety
        for path, meta in files.items() if isinstance(files, dict) else ():
            if not isinstance(meta, dict):
                continue
            etag = meta.get("lfs_sha256") or meta.get("blob_id")
            if etag:
                names[etag] = (path, int(meta.get("lfs_size") or meta.get("size") or 0), tree.stem)
    return names


def _open_by(paths: set[str], pids: set[int] | None) -> dict[str, list[OwnerProcess]]:
    """Which live processes (of `pids`, or all) have these files open, from /proc/<pid>/fd (what we may read)."""
    owners: dict[str, list[OwnerProcess]] = {}
    if not paths:
        return owners
    candidates = [str(pid) for pid in pids] if pids is not None else [e.name for e in os.scandir("/proc")]
    # A process's descriptors name the real path: a cache reached through a symlink must match too.
    real = {os.path.realpath(p): p for p in paths}
    for name in candidates:
        if not name.isdigit():
            continue
        targets = open_files(name)
        hit = {real[t] for t in targets if t in real}
        if hit:
            owner = _owner(int(name), _sockets(targets))
            if owner is not None:
                for target in hit:
                    owners.setdefault(target, []).append(owner)
    return owners


def open_files(pid: str) -> list[str]:
    """What a process's descriptors point to (`/proc/<pid>/fd`); empty when that cannot be read."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return []
    targets = []
    for fd in fds:
        try:
            targets.append(os.readlink(f"{fd_dir}/{fd}"))
        except OSError:
            continue
    return targets


def _sockets(targets: list[str]) -> frozenset[int]:
    return frozenset(int(t[8:-1]) for t in targets if t.startswith("socket:["))


def _owner(pid: int, sockets: frozenset[int] | None) -> OwnerProcess | None:
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            command = " ".join(process.cmdline()) or process.name()
            status = process.status()
            started = process.create_time()
            times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if status == psutil.STATUS_ZOMBIE:
        return None
    waited, xet = _thread_times(pid)
    return OwnerProcess(
        pid=pid,
        command=command,
        status=status,
        sockets=sockets,
        started=started,
        cpu_seconds=times.user + times.system,
        cpu_wait_seconds=waited,
        xet_cpu=xet,
    )


XET_THREAD = "hf-xet"
"""How hf_xet names its threads (its runtime's workers and its file writers: `hf-xet-0`, `hf-xet-1`...)."""


def _thread_times(pid: int) -> tuple[float | None, tuple[float, float] | None]:
    """Seconds the threads of `pid` have waited for a CPU while ready to run (a process starved by a busy
    machine works, slowly, where a stalled one sleeps), and (ran, waited) of hf_xet's threads alone, from
    each thread's schedstat (time on a CPU, time waiting for one, in ns) and name."""
    waited, xet_ran, xet_waited, read, xet_seen = 0, 0, 0, False, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None, None
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                fields = f.read().split()
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read()
            ran, wait = int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
        waited, read = waited + wait, True
        if name.startswith(XET_THREAD):
            xet_ran, xet_waited, xet_seen = xet_ran + ran, xet_waited + wait, True
    return (waited / 1e9 if read else None), ((xet_ran / 1e9, xet_waited / 1e9) if xet_seen else None)


SWEEP_AGAIN = 30.0
"""Seconds after which an unchanged partial with a free lock gets every process looked at again."""
LOCKS_REREAD = 10.0
"""Seconds the lock holders read from /proc/locks stay good while nothing else changes."""


class LockTable:
    """The holders of the cache's lock files, read from /proc/locks again only when the set of
    locks changed, a holder ended, or `LOCKS_REREAD` seconds passed: the kernel builds that file by
    walking every lock on the machine, which costs more than the rest of a refresh."""

    def __init__(self) -> None:
        self._paths: frozenset[str] = frozenset()
        self._holders: dict[str, int] = {}
        self._read_at = float("-inf")
        self._swept: dict[str, tuple[int, int, float, frozenset[int]]] = {}
        """Partial with a free lock → (size, mtime in ns, when, pids that had it open) at the last
        look through every process: a file that did not change since needs no other look."""

    def needs_sweep(self, unheld: dict[str, os.stat_result]) -> bool:
        """True when a partial with a free lock is new or changed since every process was last looked at."""
        now = time.monotonic()
        for path, st in unheld.items():
            seen = self._swept.get(path)
            if seen is None or seen[:2] != (st.st_size, st.st_mtime_ns) or now - seen[2] >= SWEEP_AGAIN:
                return True
        return False

    def writers_of(self, unheld: dict[str, os.stat_result]) -> set[int]:
        return {pid for path in unheld for pid in self._swept.get(path, (0, 0, 0.0, frozenset()))[3]}

    def swept(self, unheld: dict[str, os.stat_result], owners: dict[str, list[OwnerProcess]]) -> None:
        now = time.monotonic()
        self._swept = {
            path: (st.st_size, st.st_mtime_ns, now, frozenset(o.pid for o in owners.get(path, ())))
            for path, st in unheld.items()
        }

    def holders(self, lock_paths: set[str], partials: set[str]) -> dict[str, int]:
        """Holders of `lock_paths`; `partials` are the files behind them (a new one: read again)."""
        paths = frozenset(lock_paths | partials)
        fresh = time.monotonic() - self._read_at < LOCKS_REREAD
        if paths == self._paths and fresh and all(_lives(p) for p in self._holders.values() if p):
            return self._holders
        # A killed process is a zombie a moment before its last thread lets go of its locks: not a holder.
        holders = {path: pid for path, pid in lock_holders(lock_paths).items() if not pid or _lives(pid)}
        self._paths, self._holders, self._read_at = paths, holders, time.monotonic()
        return self._holders


def _lives(pid: int) -> bool:
    """Process `pid` runs: a killed one stays a zombie until its parent reaps it, its locks already gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def lock_holders(lock_paths: set[str]) -> dict[str, int]:
    """lock file path → pid holding a flock on it, matched by inode through /proc/locks."""
    inodes: dict[int, str] = {}
    for path in lock_paths:
        try:
            inodes[os.stat(path).st_ino] = path
        except OSError:
            continue
    if not inodes:
        return {}
    holders: dict[str, int] = {}
    try:
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters carry "->" and are skipped
        parts = line.split()
        if len(parts) < 6 or "->" in parts or parts[1] != "FLOCK":
            continue
        try:
            pid, inode = int(parts[4]), int(parts[5].rsplit(":", 1)[1])
        except (ValueError, IndexError):
            continue
        if inode in inodes:
            holders[inodes[inode]] = pid
    return holders


_LOCAL_MARK = os.sep + os.path.join(".cache", "huggingface", "download") + os.sep


def find_local_dir_partials() -> tuple[PartialFile, ...]:
    """Partial files of `local_dir=` downloads (`hf download --local-dir`), found through every
    process's open files: they live in `<local_dir>/.cache/huggingface/download/`, anywhere on disk.

    The repo is not written anywhere there, so `repo_id` is the local folder; the file's name
    comes from the `<name>.lock` the writer holds beside it.
    """
    partials: dict[str, set[int]] = {}
    locks: dict[int, set[str]] = {}
    sockets: dict[int, frozenset[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        targets = open_files(entry.name)
        mine = [t for t in targets if _LOCAL_MARK in t]
        mine_partial = {t for t in mine if t.endswith(_SUFFIX)}
        if mine_partial:
            pid = int(entry.name)
            for target in mine_partial:
                partials.setdefault(target, set()).add(pid)
            locks[pid] = {t for t in mine if t.endswith(".lock")}
            sockets[pid] = _sockets(targets)
    if not partials:
        return ()
    counters = established_sockets()
    files_of = {pid: sum(pid in pids for pids in partials.values()) for pid in locks}
    result = []
    for target, pids in partials.items():
        writers = [o for pid in sorted(pids) if (o := _owner(pid, sockets[pid])) is not None]
        if not writers:
            continue
        writers = [_with_remotes(o, counters) for o in writers]
        local_dir, inside = target.split(_LOCAL_MARK, 1)
        folder = os.path.dirname(inside)
        short_hash, _, rest = os.path.basename(target).partition(".")
        etag = rest[: -len(_SUFFIX)].split(".")[0]  # "<etag>.<8 hex>" in huggingface_hub 2.x
        # snapshot_download(local_dir=...) keeps tree listings in <local_dir>/.cache/huggingface/trees.
        listed, size, commit = names_by_etag(Path(local_dir, ".cache", "huggingface")).get(etag, (None, None, None))
        name = _local_name(os.path.dirname(target), short_hash, locks.get(writers[0].pid, set()))
        try:
            st = os.stat(target)
        except OSError:
            continue
        net = _network(writers[0], counters, files_of)
        result.append(
            PartialFile(
                path=Path(target),
                repo_type="local",
                repo_id=local_dir,
                etag=etag,
                real_bytes=min(st.st_size, st.st_blocks * 512),
                modified=st.st_mtime,
                file_name=listed or (None if name is None else os.path.join(folder, name) if folder else name),
                expected_size=size,
                commit=commit,
                owners=tuple(writers),
                lock_holder=writers[0].pid,
                free_bytes=_free_bytes(Path(target).parent),
                net_bytes=net[0],
                net_idle=net[1],
                connections=net[2],
                shared_sockets=net[3],
                sockets=net[4],
            )
        )
    return tuple(result)


def _local_name(folder: str, short_hash: str, held_locks: set[str]) -> str | None:
    """The file name whose `<name>.lock` sits in `folder` and whose `<name>.metadata` hashes to
    `short_hash`: huggingface_hub names local_dir partials `<urlsafe b64 sha1 of "<name>.metadata">.<etag>.incomplete`."""
    for lock in held_locks:
        if os.path.dirname(lock) != folder:
            continue
        name = os.path.basename(lock)[: -len(".lock")]
        digest = base64.urlsafe_b64encode(hashlib.sha1(f"{name}.metadata".encode()).digest()).decode()
        if digest == short_hash:
            return name
    return None


@dataclass(frozen=True)
class ProcessConnections:
    remotes: tuple[str, ...]
    """`host:port` of its established TCP connections, the one that received the most bytes first."""
    count: int | None
    """How many are established; None when they cannot be read."""
    idle: float | None
    """Seconds since data last arrived on any of them; None with none open or unreadable."""


def process_connections(pid: int) -> ProcessConnections:
    """A process's established TCP connections, from its open sockets and the kernel's tcp_info."""
    mine = _sockets(open_files(str(pid)))
    counters = established_sockets() if mine else None
    if counters is None:
        return ProcessConnections((), None if mine else 0, None)
    ordered = sorted((c for i, c in counters.items() if i in mine), key=lambda c: -c.bytes_received)
    idle = min((c.idle_ms / 1000 for c in ordered), default=None)
    return ProcessConnections(tuple(dict.fromkeys(c.remote for c in ordered)), len(ordered), idle)


def process_socket_bytes(pid: int) -> dict[int, int]:
    """Bytes received so far on each of a process's established TCP sockets, by socket inode."""
    mine = _sockets(open_files(str(pid)))
    counters = established_sockets() if mine else None
    if not counters:
        return {}
    return {i: c.bytes_received for i, c in counters.items() if i in mine}
