"""Reading the Hub cache: a full scan through huggingface_hub, and a cheap fingerprint to know when to rescan."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HFCacheInfo, scan_cache_dir
from huggingface_hub.errors import CacheNotFound


@dataclass(frozen=True)
class CacheScan:
    """The outcome of one scan. Exactly one of `info`, `missing` and `error` says what was found."""

    cache_dir: Path
    info: HFCacheInfo | None
    missing: bool = False
    """The cache directory does not exist (yet)."""
    error: str | None = None
    """The cache could not be read at all; a sentence for the screen."""
    started_at: float = 0.0
    duration: float = 0.0


def scan_cache(cache_dir: Path) -> CacheScan:
    started = time.time()
    t0 = time.perf_counter()

    def done(**kwargs) -> CacheScan:
        return CacheScan(cache_dir=cache_dir, started_at=started, duration=time.perf_counter() - t0, **kwargs)

    try:
        return done(info=scan_cache_dir(cache_dir))
    except CacheNotFound:
        return done(info=None, missing=True)
    except ValueError:  # huggingface_hub's word for "the path is a file"
        return done(info=None, error=f"{cache_dir} is a file, not a cache folder")
    except OSError as e:
        what = e.strerror or e.__class__.__name__
        where = e.filename or cache_dir
        return done(info=None, error=f"Cannot read the cache: {what}: {where}")
    except RuntimeError as e:  # pathlib's resolve() on a symlink loop
        return done(info=None, error=f"Cannot read the cache: {e}")


def cache_fingerprint(cache_dir: Path) -> tuple:
    """A value that changes whenever a scan would see something different, at a fraction of its cost.

    It stats directories, not files: adding, removing or renaming a blob, a snapshot entry, a partial
    file or a repo changes the mtime of the folder that holds it. Ref files are few and rewritten in
    place, so they are stat'ed one by one. Files in sub-folders of a snapshot are covered through
    the blob they point to, which is new in `blobs/` (or the snapshot sub-folder's mtime, also stat'ed).
    """
    entries: list[tuple] = []
    try:
        top = os.stat(cache_dir)
    except OSError as e:
        return ("unreadable", e.errno)
    entries.append(("", top.st_mtime_ns, top.st_ino))
    try:
        children = list(os.scandir(cache_dir))
    except OSError as e:
        return ("unreadable", e.errno, top.st_mtime_ns)
    for child in children:
        if child.name == ".locks" or not child.is_dir(follow_symlinks=False):
            continue
        _stat_dir_tree(Path(child.path), entries, depth=0, in_refs=False)
    return tuple(sorted(entries))


def _stat_dir_tree(path: Path, out: list[tuple], depth: int, in_refs: bool) -> None:
    # Repo folder → {blobs, snapshots, refs, ...} → snapshot/<rev> → sub-folders; files only under refs.
    try:
        st = os.stat(path)
    except OSError:
        out.append((str(path), -1, 0))
        return
    out.append((str(path), st.st_mtime_ns, st.st_size))
    if depth > 6:
        return
    name = path.name
    if depth == 1 and name == "blobs":
        return  # its own mtime covers additions, removals and renames; the files themselves are many
    try:
        with os.scandir(path) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if depth == 0 and entry.name in (".no_exist", "trees"):
                        continue
                    child_in_refs = in_refs or (depth == 0 and entry.name == "refs")
                    _stat_dir_tree(Path(entry.path), out, depth + 1, child_in_refs)
                elif in_refs and entry.is_file(follow_symlinks=False):
                    try:
                        fst = entry.stat(follow_symlinks=False)
                        out.append((entry.path, fst.st_mtime_ns, fst.st_size))
                    except OSError:
                        pass
    except OSError:
        pass


def partial_sizes(paths: list[Path]) -> dict[Path, int]:
    """Bytes really on disk for each partial file (sparse-aware); vanished files are left out."""
    sizes = {}
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        sizes[p] = min(st.st_size, st.st_blocks * 512)
    return sizes
