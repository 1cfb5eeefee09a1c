"""Prune: what nothing uses. Detached revisions (no branch or tag points at them), partial files
whose download died, lock files nobody holds, and blobs of the shared blob store that no repo links
to (with the `.refs` and `.lock` files the store leaves beside blobs that are gone). Unlike
`hf cache prune`, a partial file that a live download is writing is never offered, nor its lock."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HFCacheInfo
from huggingface_hub.utils._shared_blobs import is_shared_blobs_dir, shared_blobs_dir, unreferenced_shared_blobs

from tui.core.cleanup import DeletionPlan, Mark
from tui.probes.cleanup import current_plan
from tui.probes.locks import lock_is_held
from tui.probes.partials import find_partials, lock_path

QUIET_FOR = 60.0
"""Seconds a partial file with no local writer must have been left alone before it counts as an
orphan: a writer on another machine sharing the cache would have written within that time."""


@dataclass(frozen=True)
class PrunePlan:
    detached: frozenset[Mark]
    revisions: DeletionPlan
    orphans: tuple[tuple[Path, int], ...]
    """Partial files nobody writes, with their bytes on disk."""
    stale_locks: tuple[Path, ...]
    """Lock files nobody holds and no partial file goes with."""
    shared_blobs: tuple[tuple[Path, int], ...] = ()
    """Blobs of the shared blob store whose manifest names no repo blob that still links to them, with
    their sizes (huggingface_hub's own reading of the manifests)."""
    store_leftovers: tuple[Path, ...] = ()
    """`.refs` manifests and unheld `.lock` files in the shared store whose blob is gone."""

    @property
    def frees(self) -> int:
        return self.revisions.frees + sum(size for _, size in self.orphans) + sum(s for _, s in self.shared_blobs)

    @property
    def empty(self) -> bool:
        return not (
            self.revisions.deletable or self.orphans or self.stale_locks or self.shared_blobs or self.store_leftovers
        )


def plan_prune(info: HFCacheInfo, cache_dir: Path, now: float) -> PrunePlan:
    """What prune would delete now (`now` on the clock of file modification times)."""
    detached = frozenset(
        Mark(repo.cache_id, rev.commit_hash) for repo in info.repos for rev in repo.revisions if not rev.refs
    )
    partials = find_partials(cache_dir)
    orphans = tuple(
        (p.path, p.real_bytes)
        for p in partials
        if not p.owners and p.lock_holder is None and now - p.modified >= QUIET_FOR
    )
    live_locks = {str(lock_path(cache_dir, p.path, p.etag)) for p in partials}
    stale = []
    locks_dir = Path(cache_dir) / ".locks"
    for folder in _subfolders(locks_dir):
        for entry in _entries(folder):
            if entry.name.endswith(".lock") and entry.path not in live_locks and not lock_is_held(Path(entry.path)):
                stale.append(Path(entry.path))
    return PrunePlan(
        detached=detached,
        revisions=current_plan(info, detached, cache_dir),
        orphans=orphans,
        stale_locks=tuple(sorted(stale)),
        shared_blobs=tuple(sorted(unreferenced_shared_blobs(cache_dir).items())),
        store_leftovers=store_leftovers(Path(cache_dir)),
    )


def store_leftovers(cache_dir: Path) -> tuple[Path, ...]:
    """`<store>/<2 hex>/<hash>.refs` and `.lock` files whose `<hash>` blob is gone (a `.lock` only while
    nobody holds it)."""
    store = shared_blobs_dir(cache_dir)
    if not is_shared_blobs_dir(store):
        return ()
    found = []
    for prefix in _subfolders(store):
        for entry in _entries(prefix):
            name, dot, suffix = entry.name.rpartition(".")
            if not dot or suffix not in ("refs", "lock") or not entry.is_file(follow_symlinks=False):
                continue
            if os.path.lexists(os.path.join(prefix, name)):
                continue
            if suffix == "lock" and lock_is_held(Path(entry.path)):
                continue
            found.append(Path(entry.path))
    return tuple(sorted(found))


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
