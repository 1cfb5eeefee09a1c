"""Carrying out deletion and prune plans: huggingface_hub's `DeleteCacheStrategy.execute()` does the
deleting; hftop checks every path against a fresh look first and reports what could not be deleted."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import DeleteCacheStrategy, HFCacheInfo
from huggingface_hub.utils._shared_blobs import sweep_shared_blob

from tui.actions.processes import ActionRefused, AlreadyGone, delete_orphan
from tui.core.cleanup import DeletionPlan, Mark
from tui.probes.cleanup import current_plan
from tui.probes.locks import lock_is_held
from tui.probes.prune import PrunePlan


class PlanChanged(RuntimeError):
    """The cache changed since the plan was shown; `plan` is the plan as it stands now."""

    def __init__(self, plan: DeletionPlan) -> None:
        super().__init__("The cache changed since the plan was made.")
        self.plan = plan


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one deletion unit (a repo's revisions, or its files)."""

    labels: tuple[str, ...]
    freed: int
    """What the filesystem freed for it (whole blocks, as `du` counts them)."""
    errors: tuple[str, ...] = ()
    """Why it, or part of it, is still there; empty when it all went."""


@dataclass(frozen=True)
class DeletionOutcome:
    freed: int
    """What the filesystem freed (whole blocks of the files that went), not what was hoped."""
    errors: tuple[str, ...]
    """One sentence per path that could not be deleted; everything else went."""
    items: tuple[ItemOutcome, ...] = ()
    """Each unit on its own: deleted, or refused with its reasons."""


def outside_paths(strategy: DeleteCacheStrategy, cache_dir: Path) -> list[Path]:
    """Paths of the strategy that are not inside the cache folder, or are a link to a folder (rmtree
    must never reach through one). Each path's parent is resolved; the path itself is not followed."""
    root = Path(os.path.realpath(cache_dir))
    bad = []
    for path in (*strategy.files, *strategy.repos, *strategy.snapshots, *strategy.refs, *strategy.blobs):
        where = Path(os.path.realpath(path.parent)) / path.name
        if root not in where.parents:
            bad.append(path)
        elif path in strategy.repos or path in strategy.snapshots:
            if path.is_symlink():
                bad.append(path)
    return bad


def execute_deletion(
    shown: DeletionPlan, marks: frozenset[Mark], info: HFCacheInfo, cache_dir: Path
) -> DeletionOutcome:
    """Delete what `shown` says, after checking it against a fresh scan (`info`) and the live
    downloads: if the plan would differ now, raise PlanChanged with the new one instead."""
    plan = current_plan(info, marks, cache_dir)
    if not plan.same_as(shown):
        raise PlanChanged(plan)
    items = tuple(_execute_unit(unit.strategy, unit.labels, cache_dir) for unit in plan.units)
    return DeletionOutcome(
        freed=sum(i.freed for i in items), errors=tuple(e for i in items for e in i.errors), items=items
    )


def _execute_unit(strategy: DeleteCacheStrategy, labels: tuple[str, ...], cache_dir: Path) -> ItemOutcome:
    bad = outside_paths(strategy, cache_dir)
    if bad:
        return ItemOutcome(labels, 0, tuple(f"{p}: outside the cache or behind a link; not deleted" for p in bad))
    errors: list[str] = []
    before = _physical_files(strategy, cache_dir)
    problems = _Collected()
    logger = logging.getLogger("huggingface_hub.utils._cache_manager")
    logger.addHandler(problems)
    # What huggingface_hub logs goes to the report, not to its own stderr handler (a traceback on the screen).
    logger.propagate = False
    try:
        strategy.execute()
    except OSError as e:  # what huggingface_hub does not catch itself (a snapshot entry it cannot unlink)
        errors.append(f"{e.filename or '?'}: {e.strerror or e}")
    finally:
        logger.removeHandler(problems)
        logger.propagate = True
    errors += problems.messages
    return ItemOutcome(labels, freed_since(before), tuple(errors))


def _physical_files(strategy: DeleteCacheStrategy, cache_dir: Path) -> dict[tuple[int, int], tuple[str, int, int]]:
    """Every file the strategy may free, by (device, inode): its path, blocks in bytes, and link count. Folders
    are walked; a blob that links into the shared store brings the payload (hf sweeps it when unreferenced)."""
    root = os.path.realpath(cache_dir)
    found: dict[tuple[int, int], tuple[str, int, int]] = {}

    def add(path: str, follow: bool = True) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode) and follow:
            target = os.path.realpath(path)
            if target.startswith(root + os.sep):
                add(target, follow=False)
        elif stat.S_ISREG(st.st_mode):
            found[(st.st_dev, st.st_ino)] = (path, st.st_blocks * 512, st.st_nlink)

    for folder in (*strategy.repos, *strategy.snapshots):
        for top, _, names in os.walk(folder):
            for name in names:
                add(os.path.join(top, name), follow=os.path.basename(top) == "blobs")
    for path in (*strategy.blobs, *strategy.files):
        add(os.fspath(path), follow=path in strategy.blobs)
    return found


def freed_since(before: dict[tuple[int, int], tuple[str, int, int]]) -> int:
    """The blocks of the files that are gone now (a file with another name left frees nothing)."""
    freed = 0
    for (dev, ino), (path, size, links) in before.items():
        try:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == (dev, ino):
                continue
        except OSError:
            pass
        if links == 1:
            freed += size
    return freed


def execute_prune(shown: PrunePlan, info: HFCacheInfo, cache_dir: Path) -> DeletionOutcome:
    """Prune what `shown` lists, each item looked at again just before it goes. Raises
    PlanChanged when the detached revisions are no longer what was shown."""
    errors: list[str] = []
    freed = 0
    if shown.revisions.deletable:
        outcome = execute_deletion(shown.revisions, shown.detached, info, cache_dir)
        freed += outcome.freed
        errors += outcome.errors
    for path, _ in shown.orphans:
        try:
            freed += delete_orphan(cache_dir, str(path))
        except AlreadyGone:
            continue
        except ActionRefused as refused:
            errors.append(f"{path.name}: {refused}")
    for path, _ in shown.shared_blobs:
        # huggingface_hub's own sweep: under the blob's store lock, it reads the manifest again and keeps
        # a blob a download has linked to since (or is linking to now).
        swept = sweep_shared_blob(path, cache_dir=cache_dir)
        if swept:
            freed += swept
            _remove_unheld(path.with_name(path.name + ".lock"))
        elif path.exists():
            errors.append(f"shared blob {path.name[:12]}…: a repo links to it again; kept")
    for path in shown.store_leftovers:
        blob = path.with_name(path.name.rpartition(".")[0])
        if os.path.lexists(blob) or path.is_symlink() or (path.suffix == ".lock" and lock_is_held(path)):
            continue  # its blob is back, or someone holds the lock: not a leftover any more
        path.unlink(missing_ok=True)
    root = Path(os.path.realpath(cache_dir))
    for path in shown.stale_locks:
        if root not in Path(os.path.realpath(path.parent)).parents or path.is_symlink() or lock_is_held(path):
            errors.append(f"{path}: in use or outside the cache now; kept")
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            errors.append(f"{path}: {e.strerror or e}")
    return DeletionOutcome(freed=freed, errors=tuple(errors))


def _remove_unheld(lock: Path) -> None:
    if lock.is_file() and not lock.is_symlink() and not lock_is_held(lock):
        lock.unlink(missing_ok=True)


class _Collected(logging.Handler):
    """huggingface_hub logs what it could not delete and goes on; those lines are the errors to show."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING and "file not found" not in message:  # gone already: fine
            self.messages.append(message)
