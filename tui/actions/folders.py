"""Carrying out a cleanup of the xet folder and the datasets cache: the plan is made again from a fresh look
and must be the one shown; each path is checked once more just before it goes (inside its folder, its lock
not held), and each part is deleted or refused on its own."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import sys
from pathlib import Path

from tui.actions.cleanup import DeletionOutcome, ItemOutcome, freed_since
from tui.core.folders import Area, FolderCleanupItem, FolderCleanupPlan, plan_folder_cleanup
from tui.probes.hf_folders import scan_hf_folders


class FolderPlanChanged(RuntimeError):
    """The folders changed since the plan was shown; `plan` is the plan as it stands now."""

    def __init__(self, plan: FolderCleanupPlan) -> None:
        super().__init__("The folders changed since the plan was made.")
        self.plan = plan


def execute_folder_cleanup(
    shown: FolderCleanupPlan, marks: frozenset[str], xet_dir: Path, datasets_dir: Path, marked_only: bool = False
) -> DeletionOutcome:
    """Delete what `shown` says after making the plan again from a fresh look; if it would differ now, raise
    FolderPlanChanged with the new one instead."""
    plan = plan_folder_cleanup(scan_hf_folders(xet_dir, datasets_dir), marks, marked_only)
    if not plan.same_as(shown):
        raise FolderPlanChanged(plan)
    roots = {Area.XET: xet_dir, Area.DATASETS: datasets_dir}
    items = tuple(_execute_item(item, roots[item.area]) for item in plan.deletable)
    return DeletionOutcome(
        freed=sum(i.freed for i in items), errors=tuple(e for i in items for e in i.errors), items=items
    )


def _execute_item(item: FolderCleanupItem, root: Path) -> ItemOutcome:
    real_root = os.path.realpath(root)
    before: dict[tuple[int, int], tuple[str, int, int]] = {}
    errors: list[str] = []
    held: dict[Path, int] = {}
    """The locks hftop holds while this part goes, as datasets would: nobody takes them meanwhile."""
    try:
        for path in item.paths:
            problem = _problem(path, real_root) or _hold_locks(path, held)
            if problem:
                errors.append(f"{path.name}: {problem}; kept")
                continue
            try:
                _files_of(path, before)
                if path.is_dir() and not path.is_symlink():
                    _remove_tree(path, errors)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError as e:
                errors.append(f"{path.name}: {_why(e)}")
    finally:
        for fd in held.values():
            os.close(fd)
    return ItemOutcome((item.label,), freed_since(before), tuple(errors))


def _problem(path: Path, real_root: str) -> str:
    """Why `path` may not go now (empty: it may)."""
    where = os.path.join(os.path.realpath(path.parent), path.name)
    if not where.startswith(real_root + os.sep):
        return "outside its folder or behind a link"
    return ""


def _guarding_locks(path: Path) -> list[Path]:
    """The lock files `datasets` takes before it touches `path`: a download's `<hash>.lock`, an Arrow cache's
    `<hash>_builder.lock` and `<hash>.incomplete_info.lock`; a lock file guards itself."""
    if path.name.endswith(".lock"):
        return [path]
    base = path.name
    for suffix in (".json", ".incomplete"):
        base = base.removesuffix(suffix)
    return [
        path.with_name(base + ".lock"),
        path.with_name(base + "_builder.lock"),
        path.with_name(base + ".incomplete_info.lock"),
    ]


def _hold_locks(path: Path, held: dict[Path, int]) -> str:
    """Take (and keep in `held`) every lock that guards `path`; why not, when one cannot be taken."""
    for lock in _guarding_locks(path):
        if lock in held:
            continue
        try:
            fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"its lock {lock.name} cannot be taken ({_why(e)})"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return "its lock is held now"
        held[lock] = fd
    return ""


def _remove_tree(path: Path, errors: list[str]) -> None:
    def failed(_function: object, where: str, error: BaseException) -> None:
        errors.append(f"{Path(where).name}: {_why(error)}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=failed)
    else:
        shutil.rmtree(path, onerror=lambda f, p, info: failed(f, p, info[1]))


def _files_of(path: Path, into: dict[tuple[int, int], tuple[str, int, int]]) -> None:
    def add(p: str) -> None:
        try:
            st = os.lstat(p)
        except OSError:
            return
        if stat.S_ISREG(st.st_mode):
            into[(st.st_dev, st.st_ino)] = (p, st.st_blocks * 512, st.st_nlink)

    if path.is_dir() and not path.is_symlink():
        for top, _, names in os.walk(path):
            for name in names:
                add(os.path.join(top, name))
    else:
        add(str(path))


def _why(e: BaseException) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)
