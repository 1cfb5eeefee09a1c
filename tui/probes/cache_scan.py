"""Reading the Hub cache: a scan into huggingface_hub's own types, repo by repo, and a cheap fingerprint
to know when (and which repos) to scan again.

`scan_cache_dir` walks the cache with pathlib and five system calls a file; this scan reads each folder
with `os.scandir` and each file with one `readlink` and, once per blob, one `lstat`. Its results are
`scan_cache_dir`'s (tests hold them equal), except that a repo it cannot read is one warning instead of
the end of the whole scan. A `CacheScanner` keeps each repo's result with that repo's fingerprint, so a
later scan reads again only the repos that changed.
"""

from __future__ import annotations

import gc
import os
import re
import stat
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

from huggingface_hub import (
    CachedFileInfo,
    CachedRepoInfo,
    CachedRevisionInfo,
    CorruptedCacheException,
    HFCacheInfo,
)
from huggingface_hub.constants import REPO_TYPES_MAPPING
from huggingface_hub.utils._cache_manager import FILES_TO_IGNORE, CachedIncompleteFileInfo
from huggingface_hub.utils._shared_blobs import (
    SHARED_BLOBS_DIR_NAME,
    _shared_blob_target,
    is_shared_blobs_dir,
)

from tui.probes.inotify import IN_ATTRIB, IN_CHANGES, IN_CLOSE_WRITE, Inotify

FIRST_ROWS_AFTER = 0.3
"""Seconds into a scan after which the repos read so far are shown, the rest streaming in."""

_PUBLISH_EVERY = 0.5
_HASH = re.compile(r"[0-9a-f]{64}")
_PREFIX = re.compile(r"[0-9a-f]{2}")
_SKIPPED = {".locks", "CACHEDIR.TAG", *FILES_TO_IGNORE}


@dataclass(frozen=True)
class CacheScan:
    """The outcome of one scan. Exactly one of `info`, `missing` and `error` says what was found."""

    cache_dir: Path
    info: HFCacheInfo | None
    missing: bool = False
    """The cache directory does not exist (yet)."""
    error: str | None = None
    """The cache could not be read at all; a sentence for the screen."""
    partial_bytes: int = 0
    """Bytes really on disk in partial downloads (sparse-aware, unlike the scan's st_size)."""
    complete: bool = True
    """False while the scan goes on: `info` holds the repos read so far."""
    repos_read: int = 0
    """Repos read anew by this scan (the others were unchanged since the last one)."""


@dataclass(frozen=True)
class _RepoResult:
    """One top-level folder of the cache, read: a repo or the warning that stands for it, and what it adds
    to the cache-wide figures."""

    repo: CachedRepoInfo | None
    warning: CorruptedCacheException | None
    local_bytes: int = 0
    """The sizes of its blobs that are not links into the shared store: its share of the physical total (a
    repo's own blobs are its alone, so the sum, not the paths, is what the total needs)."""
    store_sizes: dict[str, int] = field(default_factory=dict)
    """Shared-store payloads this repo links to, and their sizes (read once, through the link)."""
    incomplete: tuple[str, ...] = ()
    """Partial files in the folder's blobs/."""


def scan_cache(cache_dir: Path) -> CacheScan:
    """One full scan (for a scan that remembers what it read, keep a `CacheScanner`)."""
    return CacheScanner(cache_dir).scan()


class CacheScanner:
    """Scans one cache again and again, reading only the repos whose fingerprint changed. Not thread-safe:
    one scan at a time."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self._known: dict[str, tuple[tuple[object, ...], _RepoResult]] = {}
        self._store: tuple[tuple[object, ...], dict[str, int | None]] | None = None

    def scan(self, on_progress: Callable[[CacheScan], object] | None = None) -> CacheScan:
        """Read the cache. `on_progress` gets incomplete scans while it runs (the first after
        FIRST_ROWS_AFTER seconds), so the first rows show before the last repo is read."""
        done = partial(CacheScan, self.cache_dir)
        try:
            root = Path(self.cache_dir).expanduser().resolve()
            if not root.exists():
                self._known.clear()
                return done(info=None, missing=True)
            if root.is_file():
                return done(info=None, error=f"{self.cache_dir} is a file, not a cache folder")
            with os.scandir(root) as it:
                children = sorted((e.name, e.path) for e in it if e.name not in _SKIPPED)
        except OSError as e:
            what = e.strerror or e.__class__.__name__
            return done(info=None, error=f"Cannot read the cache: {what}: {e.filename or self.cache_dir}")
        except RuntimeError as e:  # pathlib's resolve() on a symlink loop
            return done(info=None, error=f"Cannot read the cache: {e}")
        top = str(root)
        store_marked = is_shared_blobs_dir(os.path.join(top, SHARED_BLOBS_DIR_NAME))
        results: dict[str, _RepoResult] = {}
        todo: list[tuple[str, tuple[tuple[str, int, int], ...]]] = []
        for name, path in children:
            if name == SHARED_BLOBS_DIR_NAME and store_marked:
                continue
            fingerprint = _repo_fingerprint(path)
            known = self._known.get(path)
            if known is not None and known[0] == fingerprint:
                results[path] = known[1]
            else:
                todo.append((path, fingerprint))
        started = time.monotonic()
        published = started - _PUBLISH_EVERY + FIRST_ROWS_AFTER

        # One thread: most of a repo's time is Python building huggingface_hub's objects, and threads
        # fighting over the GIL made a 100,000-file scan 1.6x slower on two cores. The cyclic GC is held
        # off meanwhile: it walked the growing heap again and again, a third of the time (what a scan
        # makes holds no cycles; reference counting frees it).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for path, fingerprint in todo:
                results[path] = _read_repo(path, top if store_marked else None)
                self._known[path] = (fingerprint, results[path])
                now = time.monotonic()
                if on_progress is not None and now - published >= _PUBLISH_EVERY and len(results) < len(children):
                    published = now
                    on_progress(self._assemble(root, results, store_marked, complete=False, read=0))
        finally:
            if collecting:
                gc.enable()
        for gone in set(self._known) - set(results):
            del self._known[gone]
        return self._assemble(root, results, store_marked, complete=True, read=len(todo))

    def _assemble(
        self, root: Path, results: dict[str, _RepoResult], store_marked: bool, *, complete: bool, read: int
    ) -> CacheScan:
        repos = frozenset(r.repo for r in results.values() if r.repo is not None)
        warnings = [r.warning for _, r in sorted(results.items()) if r.warning is not None]
        total = 0
        linked: dict[str, int] = {}
        incomplete: list[CachedIncompleteFileInfo] = []
        for result in results.values():
            total += result.local_bytes
            linked.update(result.store_sizes)
            for path in result.incomplete:  # a partial grows without its folder changing: read it now
                try:
                    size = os.stat(path).st_size
                except OSError:
                    continue
                incomplete.append(CachedIncompleteFileInfo(file_path=Path(path), size_on_disk=size))
        if store_marked:
            total += sum(self._store_sizes(os.path.join(str(root), SHARED_BLOBS_DIR_NAME), linked).values())
        info = HFCacheInfo(
            size_on_disk=total,
            repos=repos,
            incomplete_files=frozenset(incomplete),
            warnings=warnings,
            cache_dir=root,
        )
        partials = partial_sizes([f.file_path for f in info.incomplete_files])
        return CacheScan(self.cache_dir, info, partial_bytes=sum(partials.values()), complete=complete, repos_read=read)

    def _store_sizes(self, store: str, linked: dict[str, int]) -> dict[str, int]:
        """Every payload of the shared store and its size, as `shared_store_blob_paths` lists them; sizes
        already read through a repo's link are not read again."""
        fingerprint = _store_fingerprint(store)
        if self._store is None or self._store[0] != fingerprint:
            self._store = (fingerprint, dict.fromkeys(_store_payloads(store)))
        sizes: dict[str, int] = {}
        for path, size in self._store[1].items():
            if path in linked:
                sizes[path] = linked[path]
                continue
            if size is None:
                try:
                    size = self._store[1][path] = os.stat(path).st_size
                except OSError:
                    continue
            sizes[path] = size
        return sizes


def _store_payloads(store: str) -> Iterator[str]:
    try:
        prefixes = list(os.scandir(store))
    except OSError:
        return
    for prefix in prefixes:
        if not _PREFIX.fullmatch(prefix.name) or not prefix.is_dir(follow_symlinks=False):
            continue
        try:
            entries = list(os.scandir(prefix.path))
        except OSError:
            continue
        for entry in entries:
            if _HASH.fullmatch(entry.name) and entry.name.startswith(prefix.name):
                if entry.is_file(follow_symlinks=False):
                    yield entry.path


def _store_fingerprint(store: str, watch: _Watch | None = None) -> tuple[tuple[str, int, int], ...]:
    """What `cache_fingerprint` watches of the shared store: its folder and each prefix folder."""
    entries: list[tuple[str, int, int]] = []
    _stat_into(entries, store, watch)
    _stat_children(entries, store, watch)
    return tuple(entries)


def _repo_fingerprint(path: str, watch: _Watch | None = None) -> tuple[tuple[str, int, int], ...]:
    """What `cache_fingerprint` watches, for one top-level folder."""
    entries: list[tuple[str, int, int]] = []
    if _stat_into(entries, path, watch) and os.path.isdir(path):
        _stat_into(entries, path + "/blobs", watch)
        if _stat_into(entries, path + "/snapshots", watch):
            _stat_children(entries, path + "/snapshots", watch)
        _stat_refs(entries, path + "/refs", watch)
    return tuple(entries)


def _read_repo(path: str, store_root: str | None) -> _RepoResult:
    """One top-level folder: `_scan_cached_repo`'s result or its warning, with an unreadable folder a
    warning too; its partial files, as `scan_cache_dir` finds them (`*/blobs/*.incomplete`)."""
    incomplete = _incomplete_files(path)
    try:
        repo, local, linked = _scan_repo(path, store_root)
    except CorruptedCacheException as e:
        return _RepoResult(None, e, incomplete=incomplete)
    except OSError as e:
        what = e.strerror or e.__class__.__name__
        warning = CorruptedCacheException(f"Cannot read {e.filename or path}: {what}")
        return _RepoResult(None, warning, incomplete=incomplete)
    return _RepoResult(repo, None, sum(local.values()), linked, incomplete)


def _incomplete_files(path: str) -> tuple[str, ...]:
    try:
        if not os.path.isdir(path):
            return ()
        with os.scandir(path + "/blobs") as it:
            return tuple(e.path for e in it if e.name.endswith(".incomplete"))
    except OSError:
        return ()


def _is_dir(path: str) -> bool:
    """Whether `path` is a folder (through links); an error other than "not there" is raised, so an
    unreadable repo is said to be unreadable rather than empty."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as e:
        if e.errno in _MISSING:
            return False
        raise


def _glob_all(folder: str, prefix: str = "", depth: int = 0) -> Iterator[tuple[os.DirEntry[str], str, int]]:
    """What `Path(folder).glob("**/*")` yields: every entry below (with its path from `folder` and how many
    folders down), sub-folders read unless they are links, an unreadable one left out."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except PermissionError:
        return
    for entry in entries:
        relative = prefix + entry.name
        yield entry, relative, depth
        if entry.is_dir(follow_symlinks=False):
            yield from _glob_all(entry.path, relative + "/", depth + 1)


class _Blobs:
    """A repo's blobs as its revisions' files point to them, compact: each blob's name in the repo's blobs/
    (or its whole path, for a file kept in a snapshot or a link elsewhere), size and times."""

    __slots__ = ("atimes", "blobs_path", "keys", "mtimes", "sizes")

    def __init__(self, blobs_path: Path):
        self.blobs_path = blobs_path
        self.keys = ""  # one string, the keys joined by NUL (no file name holds one), not one object a blob
        self.sizes, self.atimes, self.mtimes = array("q"), array("d"), array("d")


class CompactRevision(CachedRevisionInfo):
    """huggingface_hub's `CachedRevisionInfo`, whose `files` are built when asked for, from a few strings and
    arrays, rather than kept: a `CachedFileInfo` and its two paths cost about 1 kB a file, most of what a
    scan of a large cache would keep. Everything else is read at once. Its hash and equality look at the
    revision, not at each file (as a member of a set of revisions, it is hashed often)."""

    _blobs: _Blobs
    _paths: str
    _index: array[int]

    def __init__(  # noqa: PLR0913 - huggingface_hub's fields, and the files' compact form
        self,
        *,
        commit_hash: str,
        snapshot_path: Path,
        size_on_disk: int,
        refs: frozenset[str],
        last_modified: float,
        blobs: _Blobs,
        paths: list[str],
        index: array[int],
    ):
        for name, value in (
            ("commit_hash", commit_hash),
            ("snapshot_path", snapshot_path),
            ("size_on_disk", size_on_disk),
            ("refs", refs),
            ("last_modified", last_modified),
            ("_blobs", blobs),
            ("_paths", "\0".join(paths)),
            ("_index", index),
        ):
            object.__setattr__(self, name, value)

    @property
    def files(self) -> frozenset[CachedFileInfo]:
        return _files_of(self)

    @property
    def nb_files(self) -> int:
        return len(self._index)

    def __hash__(self) -> int:
        return hash((self.snapshot_path, self.size_on_disk, self.last_modified))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRevision):
            return NotImplemented
        return (
            self.commit_hash == other.commit_hash
            and self.snapshot_path == other.snapshot_path
            and self.size_on_disk == other.size_on_disk
            and self.refs == other.refs
            and self.last_modified == other.last_modified
            and self._paths == other._paths
            and self._index == other._index
            and self._blobs.keys == other._blobs.keys
            and self._blobs.sizes == other._blobs.sizes
            and self._blobs.atimes == other._blobs.atimes
            and self._blobs.mtimes == other._blobs.mtimes
        )


@lru_cache(maxsize=4)  # the revision a pane shows, redrawn every refresh, is built once
def _files_of(revision: CompactRevision) -> frozenset[CachedFileInfo]:
    if not revision._index:
        return frozenset()
    blobs = revision._blobs
    keys = blobs.keys.split("\0")
    snapshot = revision.snapshot_path
    files = []
    for relative, i in zip(revision._paths.split("\0"), revision._index, strict=True):
        key = keys[i]
        files.append(
            CachedFileInfo(
                file_name=relative.rpartition("/")[2],
                file_path=snapshot / relative,
                blob_path=Path(key) if "/" in key else blobs.blobs_path / key,
                size_on_disk=blobs.sizes[i],
                blob_last_accessed=blobs.atimes[i],
                blob_last_modified=blobs.mtimes[i],
            )
        )
    return frozenset(files)


def _scan_repo(path: str, store_root: str | None) -> tuple[CachedRepoInfo, dict[str, int], dict[str, int]]:
    """`_scan_cached_repo` of huggingface_hub, with its checks and messages, on os.scandir."""
    repo_path = Path(path)
    if not os.path.isdir(path):
        raise CorruptedCacheException(f"Repo path is not a directory: {repo_path}")
    name = repo_path.name
    if "--" not in name:
        raise CorruptedCacheException(f"Repo path is not a valid HuggingFace cache directory: {repo_path}")
    prefix, repo_id = name.split("--", maxsplit=1)
    repo_id = repo_id.replace("--", "/")
    if prefix not in REPO_TYPES_MAPPING:
        raise CorruptedCacheException(
            f"Repo type must be one of {sorted(REPO_TYPES_MAPPING)}, found `{prefix}` ({repo_path})."
        )
    snapshots, refs = path + "/snapshots", path + "/refs"
    snapshots_path, blobs_dir = repo_path / "snapshots", path + "/blobs"
    if not _is_dir(snapshots):
        raise CorruptedCacheException(f"Snapshots dir doesn't exist in cached repo: {Path(snapshots)}")

    refs_by_hash: dict[str, set[str]] = defaultdict(set)
    if os.path.exists(refs):
        if os.path.isfile(refs):
            raise CorruptedCacheException(f"Refs directory cannot be a file: {Path(refs)}")
        if os.path.isdir(refs):
            for entry, relative, _ in _glob_all(refs):
                if entry.is_dir() or entry.name in FILES_TO_IGNORE:
                    continue
                with open(entry.path) as f:
                    refs_by_hash[f.read()].add(relative)

    # Each blob once, by its path: its key (its name in blobs/, else its path) and its figures, by one index.
    index_of: dict[str, int] = {}
    keys: list[str] = []
    table = _Blobs(repo_path / "blobs")
    sizes, atimes, mtimes = table.sizes, table.atimes, table.mtimes
    local: dict[str, int] = {}
    linked: dict[str, int] = {}
    revisions = set()
    with os.scandir(snapshots) as it:
        revision_entries = list(it)
    for revision in revision_entries:
        if revision.name in FILES_TO_IGNORE:
            continue
        if revision.is_file():
            raise CorruptedCacheException(f"Snapshots folder corrupted. Found a file: {Path(revision.path)}")
        paths: list[str] = []
        index = array("I")
        used: set[int] = set()
        for entry, relative, depth in _glob_all(revision.path):
            if entry.is_symlink():
                target = os.readlink(entry.path)
                # huggingface_hub's own links, ../../blobs/<etag> from the revision's top, need no normalizing
                rest = target[3 * depth + 6 : 3 * depth + 12]
                name = target[3 * depth + 12 :]
                if rest == "blobs/" and target.startswith(_UP * (depth + 2)) and "/" not in name and name.strip("."):
                    blob, key = f"{blobs_dir}/{name}", name
                else:
                    blob = key = os.path.abspath(os.path.join(os.path.dirname(entry.path), target))
            elif entry.is_dir():
                continue
            else:
                blob = key = entry.path
            i = index_of.get(blob)
            if i is None:
                try:
                    st = os.lstat(blob)  # a blob file: one system call
                except OSError:
                    st = None
                if st is not None and stat.S_ISREG(st.st_mode):
                    local[blob] = st.st_size
                else:  # a link (into the shared store?), a folder, or not there
                    st = _blob_stat(blob, store_root, local, linked)
                if st is None:
                    raise CorruptedCacheException(f"Blob missing (broken symlink): {Path(blob)}")
                if stat.S_ISDIR(st.st_mode):  # a link to a folder is a folder, as pathlib sees it
                    continue
                i = index_of[blob] = len(keys)
                keys.append(key)
                sizes.append(st.st_size)
                atimes.append(st.st_atime)
                mtimes.append(st.st_mtime)
            used.add(i)
            paths.append(relative)
            index.append(i)
        last_modified = max((mtimes[i] for i in used), default=None)
        revisions.add(
            CompactRevision(
                commit_hash=revision.name,
                refs=frozenset(refs_by_hash.pop(revision.name, set())),
                size_on_disk=sum(sizes[i] for i in used),
                snapshot_path=snapshots_path / revision.name,
                last_modified=os.stat(revision.path).st_mtime if last_modified is None else last_modified,
                blobs=table,
                paths=paths,
                index=index,
            )
        )
    table.keys = "\0".join(keys)
    if refs_by_hash:
        raise CorruptedCacheException(
            f"Reference(s) refer to missing commit hashes: {dict(refs_by_hash)} ({repo_path})."
        )
    if keys:
        last_accessed, last_modified = max(atimes), max(mtimes)
    else:
        repo_stat = os.stat(path)
        last_accessed, last_modified = repo_stat.st_atime, repo_stat.st_mtime
    repo = CachedRepoInfo(
        nb_files=len(keys),
        repo_id=repo_id,
        repo_path=repo_path,
        repo_type=REPO_TYPES_MAPPING[prefix],  # type: ignore[arg-type]
        revisions=frozenset(revisions),
        size_on_disk=sum(sizes),
        last_accessed=last_accessed,
        last_modified=last_modified,
    )
    return repo, local, linked


_UP = "../"
_MISSING = {2, 20, 9, 40}  # ENOENT, ENOTDIR, EBADF, ELOOP: what pathlib's exists() takes for "not there"


def _blob_stat(
    blob: str, store_root: str | None, local: dict[str, int], linked: dict[str, int]
) -> os.stat_result | None:
    """The blob's stat through any link (None when it is not there), filed as a repo-local blob or, for a
    link into the shared store, as that payload (the physical total counts each payload once)."""
    try:
        st = os.lstat(blob)
        target = None
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(blob)
            if store_root is not None:
                target = _shared_blob_target(blob, store_root)
    except OSError as e:
        if e.errno in _MISSING:
            return None
        raise
    if stat.S_ISDIR(st.st_mode):
        return st
    if target is not None and stat.S_ISREG(st.st_mode):
        linked[str(target)] = st.st_size
    else:
        local[blob] = st.st_size
    return st


def cache_fingerprint(cache_dir: Path, watch: _Watch | None = None) -> tuple[object, ...]:
    """A value that changes whenever a scan would see something different, at a fraction of its cost.

    It stats folders, not files: adding, removing or renaming a blob, a partial file, a revision
    or a repo changes the mtime of the folder that holds it. Per repo that is the repo folder,
    `blobs/`, `snapshots/` and each `snapshots/<rev>/`; ref files are few and rewritten in place,
    so each is stat'ed. Not seen: a new file in a sub-folder of an existing revision whose blob
    was already there (same content under a new path); `r` rescans by hand. `watch` is called with
    each folder, and what in it matters, just before the folder is stat'ed.
    """
    entries: list[tuple[str, int, int]] = []
    root = os.fspath(cache_dir)
    if watch is not None:
        watch(root, IN_CHANGES)
    try:
        top = os.stat(root)
        children = list(os.scandir(root))
    except OSError as e:
        return ("unreadable", e.errno)
    entries.append(("", top.st_mtime_ns, top.st_ino))
    # Plain strings and os.stat: this runs every refresh, and pathlib costs more than the syscalls.
    for child in children:
        if child.name == ".locks" or not child.is_dir(follow_symlinks=False):
            continue
        if child.name == SHARED_BLOBS_DIR_NAME:  # the shared Xet store: one level of prefix folders
            entries += _store_fingerprint(child.path, watch)
        else:
            entries += _repo_fingerprint(child.path, watch)
    return tuple(entries)


_Watch = Callable[[str, int], object]
_REFS_CHANGES = IN_CHANGES | IN_ATTRIB | IN_CLOSE_WRITE  # ref files are rewritten in place


class CacheChanges:
    """Whether the cache may have changed since the last fingerprint, without looking again.

    Every folder the fingerprint stats is watched with inotify just before it is stat'ed, so whatever
    changes it afterwards is an event; while no event came, the last fingerprint still holds, and on a
    large cache that saves thousands of system calls a refresh. Where a watch is refused (no inotify,
    the watch limit) on a folder that is there, every look takes the fingerprint again."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self._inotify = Inotify()
        self._refused: list[str] = []
        self._covered = False
        self._last: tuple[object, ...] | None = None

    def fingerprint(self) -> tuple[object, ...]:
        """The cache's fingerprint: the last one while nothing it looks at changed, else a new one."""
        if self._covered and self._last is not None and not self._inotify.events():
            return self._last
        self._inotify.events()  # what happened before this look is in the new fingerprint
        self._refused = []
        self._last = cache_fingerprint(self.cache_dir, self._watch)
        # A refused watch matters only on a folder that is there (one that comes later is seen arriving
        # in its watched parent); the cache folder has none watched, so while it is missing, poll.
        root = os.fspath(self.cache_dir)
        self._covered = self._inotify.watching(root) and not any(os.path.lexists(p) for p in self._refused)
        return self._last

    def _watch(self, folder: str, mask: int) -> None:
        if not self._inotify.watch(folder, mask):
            self._refused.append(folder)

    def close(self) -> None:
        self._inotify.close()


def _stat_into(entries: list[tuple[str, int, int]], path: str, watch: _Watch | None = None) -> bool:
    if watch is not None:
        watch(path, IN_CHANGES)
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        entries.append((path, -1, -1))
        return False
    entries.append((path, st.st_mtime_ns, st.st_size))
    return True


def _stat_children(entries: list[tuple[str, int, int]], folder: str, watch: _Watch | None = None) -> None:
    """Each sub-folder's mtime (revisions in snapshots/, prefixes in the shared store)."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if watch is not None:
                        watch(entry.path, IN_CHANGES)
                    st = entry.stat(follow_symlinks=False)
                    entries.append((entry.path, st.st_mtime_ns, st.st_size))
    except OSError:
        pass


def _stat_refs(entries: list[tuple[str, int, int]], folder: str, watch: _Watch | None = None) -> None:
    # refs/main, refs/v1.0, refs/refs/pr/1: a handful of small files, rewritten in place.
    if watch is not None and os.path.isdir(folder):
        watch(folder, _REFS_CHANGES)
    try:
        with os.scandir(folder) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                entries.append((entry.path, st.st_mtime_ns, st.st_size))
                if entry.is_dir(follow_symlinks=False):
                    _stat_refs(entries, entry.path, watch)
    except OSError:
        pass


def partial_sizes(paths: list[Path]) -> dict[Path, int]:
    """Bytes really on disk for each partial file (sparse-aware); vanished files are left out, and so is a
    second name of the same bytes (the hard link hftop keeps so that a download's bytes outlive it)."""
    sizes: dict[Path, int] = {}
    seen: set[tuple[int, int]] = set()
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            sizes[p] = min(st.st_size, st.st_blocks * 512)
    return sizes
