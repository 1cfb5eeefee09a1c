"""Reading the Hub cache: a full scan through huggingface_hub, and a cheap fingerprint to know when to rescan."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
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
    partial_bytes: int = 0
    """Bytes really on disk in partial downloads (sparse-aware, unlike the scan's st_size)."""


def scan_cache(cache_dir: Path) -> CacheScan:
    done = partial(CacheScan, cache_dir)

    try:
        info = scan_cache_dir(cache_dir)
        partials = partial_sizes([f.file_path for f in info.incomplete_files])
        return done(info=info, partial_bytes=sum(partials.values()))
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


def cache_fingerprint(cache_dir: Path) -> tuple[object, ...]:
    """A value that changes whenever a scan would see something different, at a fraction of its cost.

    It stats folders, not files: adding, removing or renaming a blob, a partial file, a revision
    or a repo changes the mtime of the folder that holds it. Per repo that is the repo folder,
    `blobs/`, `snapshots/` and each `snapshots/<rev>/`; ref files are few and rewritten in place,
    so each is stat'ed. Not seen: a new file in a sub-folder of an existing revision whose blob
    was already there (same content under a new path); `r` rescans by hand.
    """
    entries: list[tuple[str, int, int]] = []
    root = os.fspath(cache_dir)
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
        path = child.path
        _stat_into(entries, path)
        if child.name == "blobs":  # the shared Xet store: one level of prefix folders
            _stat_children(entries, path)
            continue
        _stat_into(entries, path + "/blobs")
        if _stat_into(entries, path + "/snapshots"):
            _stat_children(entries, path + "/snapshots")
        _stat_refs(entries, path + "/refs")
    return tuple(entries)


def _stat_into(entries: list[tuple[str, int, int]], path: str) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        entries.append((path, -1, -1))
        return False
    entries.append((path, st.st_mtime_ns, st.st_size))
    return True


def _stat_children(entries: list[tuple[str, int, int]], folder: str) -> None:
    """Each sub-folder's mtime (revisions in snapshots/, prefixes in the shared store)."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    entries.append((entry.path, st.st_mtime_ns, st.st_size))
    except OSError:
        pass


def _stat_refs(entries: list[tuple[str, int, int]], folder: str) -> None:
    # refs/main, refs/v1.0, refs/refs/pr/1: a handful of small files, rewritten in place.
    try:
        with os.scandir(folder) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                entries.append((entry.path, st.st_mtime_ns, st.st_size))
                if entry.is_dir(follow_symlinks=False):
                    _stat_refs(entries, entry.path)
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
