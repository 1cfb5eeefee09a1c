"""The xet folder (`HF_XET_CACHE`) and the datasets cache (`HF_DATASETS_CACHE`): their parts, which live
process uses each (open or memory-mapped files, held locks, a log's writer), and what a cleanup may take.

The rules for what is offered: hf_xet logs of processes that are gone and older than a day; staging and
chunk caches (older hf_xet left them) while no hf_xet process uses the folder; datasets `downloads/` and
`downloads/extracted/` entries whose lock nobody holds and that nobody has open; lock files nobody holds.
Anything changed in the last `QUIET_FOR` seconds waits. Arrow caches go only when the user marks them."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from tui.core.folders import Area, FolderPart, HfFolders, PartKind
from tui.probes.owner import alive
from tui.probes.partials import lock_holders, open_files
from tui.probes.prune import QUIET_FOR
from tui.probes.xetlog import hf_home_folder, xet_cache_dir

LOG_AGE = 86_400.0
"""Seconds since its last line before a gone process's hf_xet log is offered."""
_LOG_NAME = re.compile(r"^xet_(\d{8}T\d{6}\d*[+-]\d{4})_(\d+)\.log$")
"""hf_xet's own log names: `xet_<local time with its UTC offset>_<pid>.log`."""
_HASH = re.compile(r"^[0-9a-f]{40,64}$")
_SIDE_FILES = (".json", ".lock", ".incomplete")
"""What datasets' cached_path keeps beside a download `<hash>`: its metadata, its lock, its unfinished copy."""


def datasets_cache_dir(environ: dict[str, str]) -> Path:
    """Where the `datasets` library of a process with this environment keeps its cache."""
    return hf_home_folder(environ, "HF_DATASETS_CACHE", "datasets")


def default_folders(environ: dict[str, str] | None = None) -> tuple[Path, Path]:
    """The xet folder and the datasets cache that huggingface_hub and datasets would use here."""
    env = dict(os.environ if environ is None else environ)
    return xet_cache_dir(env), datasets_cache_dir(env)


@dataclass
class _Tree:
    """Files under a folder: how many, their bytes, the newest mtime, and which of them are lock files."""

    size: int = 0
    files: int = 0
    modified: float = 0.0
    locks: list[str] = field(default_factory=list)

    def add(self, st: os.stat_result) -> None:
        self.size += st.st_size
        self.files += 1
        self.modified = max(self.modified, st.st_mtime)


class _Scan:
    """One look: the /proc sweep and /proc/locks are read once and shared by every part."""

    def __init__(self, roots: list[Path], now: float) -> None:
        self.now = now
        self.warnings: list[str] = []
        self.users = _users_under([os.path.realpath(r) for r in roots])
        self.holders: dict[str, int] = {}

    def tree(self, folder: str, into: _Tree | None = None) -> _Tree:
        tree = into or _Tree()
        stack = [folder]
        while stack:
            for entry in _entries(self, stack.pop()):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                except OSError:
                    continue
                _add_file(entry, tree)
        return tree

    def pids_under(self, path: str) -> tuple[int, ...]:
        real = os.path.realpath(path)
        return tuple(
            sorted({pid for p, pids in self.users.items() if p == real or p.startswith(real + os.sep) for pid in pids})
        )

    def held(self, lock: str) -> int | None:
        return self.holders.get(lock)

    def quiet(self, mtime: float) -> bool:
        return self.now - mtime >= QUIET_FOR


def scan_hf_folders(xet_dir: Path, datasets_dir: Path, now: float | None = None) -> HfFolders:
    """Read both folders (either may be missing). Blocking: call it in a worker."""
    scan = _Scan([xet_dir, datasets_dir], time.time() if now is None else now)
    parts: list[FolderPart] = []
    locks: list[str] = []
    xet_parts = _xet_parts(scan, xet_dir) if _is_dir(xet_dir) else []
    ds = _DatasetsReading(scan, datasets_dir) if _is_dir(datasets_dir) else None
    if ds is not None:
        locks = ds.all_locks()
    scan.holders = lock_holders(set(locks))
    parts += xet_parts
    if ds is not None:
        parts += ds.parts()
    return HfFolders(
        xet_dir=xet_dir,
        datasets_dir=datasets_dir,
        parts=tuple(parts),
        warnings=tuple(scan.warnings),
        xet_exists=_is_dir(xet_dir),
        datasets_exists=_is_dir(datasets_dir),
    )


# --- the xet folder ---------------------------------------------------------------------------------
def _xet_parts(scan: _Scan, xet_dir: Path) -> list[FolderPart]:
    parts: list[FolderPart] = []
    logs = _logs_part(scan, xet_dir / "logs")
    # A live hf_xet process may stage an upload or read a chunk cache at any moment: while one runs
    # against this folder (its log's writer is alive, or it has a file here open), those stay.
    live = sorted({*(logs.users if logs else ()), *scan.pids_under(str(xet_dir))})
    if logs is not None:
        parts.append(logs)
    other = _Tree()
    for entry in _entries(scan, str(xet_dir)):
        if entry.name == "logs":
            continue
        if not entry.is_dir(follow_symlinks=False):
            _add_file(entry, other)
            continue
        if entry.name == "chunk-cache":
            parts.append(_whole_part(scan, Area.XET, PartKind.CHUNK_CACHE, "chunk-cache", entry.path, live))
            continue
        if "___" not in entry.name:  # not an endpoint's folder (`https___<host>-<id>`): counted, never offered
            scan.tree(entry.path, other)
            continue
        for sub in _entries(scan, entry.path):
            label = f"{_endpoint_label(entry.name)} {sub.name}"
            if not sub.is_dir(follow_symlinks=False):
                _add_file(sub, other)
            elif sub.name == "shard-cache":
                tree = scan.tree(sub.path)
                parts.append(
                    FolderPart(
                        Area.XET, PartKind.SHARD_CACHE, label, Path(sub.path), tree.size, tree.files, tree.modified,
                        users=scan.pids_under(sub.path), kept="bounded by hf_xet (16 GB)",
                    )
                )  # fmt: skip
            elif sub.name == "chunk-cache":
                parts.append(_whole_part(scan, Area.XET, PartKind.CHUNK_CACHE, label, sub.path, live))
            elif sub.name == "staging":
                parts.append(_staging_part(scan, label, sub.path, live))
            else:
                scan.tree(sub.path, other)
    if other.files:
        parts.append(
            FolderPart(Area.XET, PartKind.OTHER, "other files", xet_dir, other.size, other.files, other.modified)
        )
    return parts


def _logs_part(scan: _Scan, logs_dir: Path) -> FolderPart | None:
    if os.path.islink(logs_dir):  # logs kept elsewhere through a link: counted nowhere, offered never
        return FolderPart(Area.XET, PartKind.LOGS, "logs", logs_dir, 0, 0, 0.0, kept="a link: hftop does not follow it")
    if not _is_dir(logs_dir):
        return None
    tree, users, offered, young, foreign = _Tree(), set(), [], 0, 0
    offered_bytes = 0
    for entry in _entries(scan, str(logs_dir)):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        tree.add(st)
        if _LOG_NAME.search(entry.name) is None:
            foreign += 1  # not a name hf_xet gives its logs: not hftop's to offer
            continue
        writers = set(scan.pids_under(entry.path))
        writer = _log_writer(entry.name)
        if writer is not None:
            writers.add(writer)
        if writers:
            users |= writers
        elif scan.now - st.st_mtime < LOG_AGE:
            young += 1
        else:
            offered.append(Path(entry.path))
            offered_bytes += st.st_size
    kept = []
    if users:
        kept.append(f"{len(users)} live")
    if young:
        kept.append(f"{young} under a day old")
    if foreign:
        kept.append(f"{foreign} not hf_xet's")
    return FolderPart(
        Area.XET, PartKind.LOGS, "logs", logs_dir, tree.size, tree.files, tree.modified,
        users=tuple(sorted(users)), offered=tuple(sorted(offered)), offered_bytes=offered_bytes,
        kept=("kept: " + ", ".join(kept)) if kept else "",
    )  # fmt: skip


def _log_writer(name: str) -> int | None:
    """The live process that writes the log `xet_<time>_<pid>.log`: its pid, unless that pid is gone or now
    belongs to a process started after the log was (the number was reused). When that cannot be told, the
    pid: the safe side."""
    match = _LOG_NAME.search(name)
    if match is None:
        return None
    try:
        pid = int(match.group(2))
        if not alive(pid):
            return None
    except (OverflowError, ValueError):  # no process has such a number
        return None
    try:
        started = psutil.Process(pid).create_time()
        opened = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%f%z").timestamp()
    except (psutil.Error, ValueError):
        return pid
    return pid if started <= opened + 1 else None


def _staging_part(scan: _Scan, label: str, path: str, live: list[int]) -> FolderPart:
    tree, offered, offered_bytes = _Tree(), [], 0
    users = scan.pids_under(path)
    for entry in _entries(scan, path):
        one = _Tree()
        if entry.is_dir(follow_symlinks=False):
            scan.tree(entry.path, one)
        else:
            _add_file(entry, one)
        tree.size, tree.files, tree.modified = (
            tree.size + one.size,
            tree.files + one.files,
            max(tree.modified, one.modified),
        )
        if not live and scan.quiet(one.modified):
            offered.append(Path(entry.path))
            offered_bytes += one.size
    kept = _live_reason(users, live) if tree.files and (users or live) else ""
    return FolderPart(
        Area.XET, PartKind.STAGING, label, Path(path), tree.size, tree.files, tree.modified,
        users=users, offered=tuple(sorted(offered)), offered_bytes=offered_bytes, kept=kept,
    )  # fmt: skip


def _whole_part(scan: _Scan, area: Area, kind: PartKind, label: str, path: str, live: list[int]) -> FolderPart:
    """A folder that goes whole or not at all (a chunk cache of older hf_xet)."""
    tree = scan.tree(path)
    users = scan.pids_under(path)
    if users or live:
        return FolderPart(
            area, kind, label, Path(path), tree.size, tree.files, tree.modified,
            users=users, kept=_live_reason(users, live),
        )  # fmt: skip
    ok = scan.quiet(tree.modified)
    return FolderPart(
        area, kind, label, Path(path), tree.size, tree.files, tree.modified,
        offered=(Path(path),) if ok else (), offered_bytes=tree.size if ok else 0,
        kept="" if ok else "changed in the last minute",
    )  # fmt: skip


def _live_reason(users: tuple[int, ...], live: list[int]) -> str:
    if users:
        return f"in use by PID {_pids(users)}"
    return f"hf_xet runs (PID {_pids(tuple(live))})"


def _pids(pids: tuple[int, ...]) -> str:
    return f"{pids[0]}" + (f" +{len(pids) - 1}" if len(pids) > 1 else "")


def _endpoint_label(tag: str) -> str:
    """`https___cas-server_xethub_hf_co-<suffix>` → `cas-server.xethub.hf.co`, the endpoint the tag names."""
    name = tag.split("___", 1)[-1].rsplit("-", 1)[0]
    return name.replace("_", ".") or tag


# --- the datasets cache ------------------------------------------------------------------------------
class _DatasetsReading:
    def __init__(self, scan: _Scan, root: Path) -> None:
        self.scan = scan
        self.root = root
        self.downloads = self._groups(str(root / "downloads"), skip=("extracted",))
        self.extracted = self._groups(str(root / "downloads" / "extracted"))
        self.arrow: list[tuple[str, _Tree]] = []
        self.loose = _Tree()
        """Files of no Arrow cache and no download: the builders' lock files and the rest."""
        for entry in _entries(scan, str(root)):
            if entry.name == "downloads" and entry.is_dir(follow_symlinks=False):
                continue
            self._walk(entry, depth=0)

    def _groups(self, folder: str, skip: tuple[str, ...] = ()) -> dict[str, tuple[list[str], _Tree]]:
        """`<hash>` with the `.json`, `.lock`, `.incomplete` that go with it, one group each."""
        groups: dict[str, tuple[list[str], _Tree]] = {}
        if os.path.islink(folder):
            return groups  # a link: hftop does not follow it (the walk counts the link itself)
        for entry in _entries(self.scan, folder):
            if entry.name in skip:
                continue
            base = entry.name
            for suffix in _SIDE_FILES:
                base = base.removesuffix(suffix)
            paths, tree = groups.setdefault(base, ([], _Tree()))
            paths.append(entry.path)
            if entry.is_dir(follow_symlinks=False):
                self.scan.tree(entry.path, tree)
            else:
                _add_file(entry, tree)
        return groups

    def _walk(self, entry: os.DirEntry[str], depth: int) -> None:
        if not entry.is_dir(follow_symlinks=False):
            _add_file(entry, self.loose)
            return
        names = list(_entries(self.scan, entry.path))
        if depth >= 2 and any(e.name == "dataset_info.json" or e.name.endswith(".arrow") for e in names):
            self.arrow.append((entry.path, self.scan.tree(entry.path)))
            return
        if depth > 6:
            self.scan.tree(entry.path, self.loose)
            return
        for sub in names:
            self._walk(sub, depth + 1)

    def own_locks(self) -> list[str]:
        """The loose lock files `datasets` itself makes (a builder's, a cache's info lock, the root's `_…lock`);
        another program's `*.lock` in the folder is left alone."""
        return [p for p in self.loose.locks if _datasets_lock(p, str(self.root))]

    def all_locks(self) -> list[str]:
        found = list(self.loose.locks)
        for groups in (self.downloads, self.extracted):
            found += [p for paths, _ in groups.values() for p in paths if p.endswith(".lock")]
        return found

    def parts(self) -> list[FolderPart]:
        scan, parts = self.scan, []
        for kind, label, folder, groups in (
            (PartKind.DOWNLOADS, "downloads", self.root / "downloads", self.downloads),
            (PartKind.EXTRACTED, "downloads/extracted", self.root / "downloads" / "extracted", self.extracted),
        ):
            if groups:
                parts.append(self._group_part(kind, label, folder, groups))
        for path, tree in sorted(self.arrow):
            parts.append(
                FolderPart(
                    Area.DATASETS, PartKind.ARROW, _arrow_label(self.root, path), Path(path), tree.size, tree.files,
                    tree.modified, users=self._arrow_users(path),
                    kept="" if scan.quiet(tree.modified) else "changed in the last minute",
                )
            )  # fmt: skip
        locks = self.own_locks()
        unheld = [p for p in locks if scan.held(p) is None and scan.quiet(_mtime(p))]
        locks_left = len(locks) - len(unheld)
        if locks:
            parts.append(
                FolderPart(
                    Area.DATASETS, PartKind.LOCKS, "lock files", self.root, 0, len(locks),
                    max((_mtime(p) for p in locks), default=0.0),
                    users=tuple(sorted({pid for p in locks if (pid := scan.held(p)) is not None})),
                    offered=tuple(sorted(Path(p) for p in unheld)),
                    kept=f"{locks_left} held or new" if locks_left else "",
                )
            )  # fmt: skip
        rest = self.loose.files - len(locks)
        if rest:
            parts.append(
                FolderPart(
                    Area.DATASETS, PartKind.OTHER, "other files", self.root, self.loose.size, rest, self.loose.modified
                )
            )
        return parts

    def _group_part(
        self, kind: PartKind, label: str, folder: Path, groups: dict[str, tuple[list[str], _Tree]]
    ) -> FolderPart:
        scan = self.scan
        total, users, offered, offered_bytes, busy = _Tree(), set(), [], 0, 0
        # A dataset being built reads its downloads one after another, with none of them open in between.
        builders = sorted({pid for p in self.loose.locks if p.endswith("_builder.lock") and (pid := scan.held(p))})
        for base, (paths, tree) in groups.items():
            total.size, total.files = total.size + tree.size, total.files + tree.files
            total.modified = max(total.modified, tree.modified)
            holder = scan.held(os.path.join(os.path.dirname(paths[0]), base + ".lock"))
            using = {pid for p in paths for pid in scan.pids_under(p)} | ({holder} if holder is not None else set())
            if using or builders or not scan.quiet(tree.modified):
                users |= using
                busy += 1
                continue
            offered += [Path(p) for p in paths]
            offered_bytes += tree.size
        kept = f"a dataset is being built (PID {_pids(tuple(builders))})" if builders else ""
        return FolderPart(
            Area.DATASETS, kind, label, folder, total.size, total.files, total.modified,
            users=tuple(sorted(users)), offered=tuple(sorted(offered)), offered_bytes=offered_bytes,
            kept=kept or (f"{busy} in use or new" if busy else ""),
        )  # fmt: skip

    def _arrow_users(self, path: str) -> tuple[int, ...]:
        """Processes with its files open or mapped, and the holder of its builder lock beside it."""
        pids = set(self.scan.pids_under(path))
        base = path.removesuffix(".incomplete")
        for lock in (f"{base}_builder.lock", f"{base}.incomplete_info.lock"):
            if (holder := self.scan.held(lock)) is not None:
                pids.add(holder)
        return tuple(sorted(pids))


def _arrow_label(root: Path, path: str) -> str:
    """`rajpurkar___squad/plain_text/0.0.0/<hash>` → `rajpurkar/squad/plain_text/0.0.0 7067e4b2`."""
    parts = Path(path).relative_to(root).parts
    words = [p.replace("___", "/") for p in parts]
    if words and _HASH.match(words[-1].removesuffix(".incomplete")):
        last = words.pop()
        unfinished = " (unfinished)" if last.endswith(".incomplete") else ""
        return "/".join(words) + f" {last[:8]}{unfinished}"
    return "/".join(words)


# --- reading the world --------------------------------------------------------------------------------
def _entries(scan: _Scan, folder: str) -> Iterable[os.DirEntry[str]]:
    try:
        return list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as e:
        scan.warnings.append(f"Cannot read {folder}: {e.strerror or e}")
        return []


def _add_file(entry: os.DirEntry[str], tree: _Tree) -> None:
    try:
        tree.add(entry.stat(follow_symlinks=False))
    except OSError:
        return
    if entry.name.endswith(".lock"):
        tree.locks.append(entry.path)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a parent that cannot be entered
        return False


def _datasets_lock(path: str, root: str) -> bool:
    name = os.path.basename(path)
    at_root = os.path.dirname(path) == root
    return name.endswith(("_builder.lock", "_info.lock")) or (
        at_root and name.startswith("_") and name.endswith(".lock")
    )


def _mtime(path: str) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _users_under(roots: list[str]) -> dict[str, set[int]]:
    """Real path → live pids that have it open (`/proc/<pid>/fd`) or mapped (`/proc/<pid>/maps`), for the
    paths under `roots`; what we may not read is not known."""
    found: dict[str, set[int]] = {}
    prefixes = tuple(r + os.sep for r in roots)
    me = str(os.getpid())
    try:
        processes = list(os.scandir("/proc"))
    except OSError:
        return found
    for entry in processes:
        if not entry.name.isdigit() or entry.name == me:
            continue
        paths = [t for t in open_files(entry.name) if t.startswith(prefixes)]
        try:
            with open(f"/proc/{entry.name}/maps") as maps:
                for line in maps:
                    fields = line.split(maxsplit=5)
                    if len(fields) == 6 and fields[5].startswith(prefixes):
                        paths.append(fields[5].rstrip("\n").removesuffix(" (deleted)"))
        except OSError:
            pass
        for path in paths:
            found.setdefault(path, set()).add(int(entry.name))
    return found
