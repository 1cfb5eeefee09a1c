"""Carrying out a cleanup of the xet folder and the datasets cache: the plan is made again from a fresh look
and must be the one shown; each path is checked once more just before it goes (inside its folder, its lock
not held), and each part is deleted or refused on its own."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from tui.actions.cleanup import DeletionOutcome, ItemOutcome, freed_since
from tui.core.folders import Area, FolderCleanupItem, FolderCleanupPlan, plan_folder_cleanup
from tui.probes.hf_folders import scan_hf_folders
from tui.probes.locks import lock_is_held


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
    for path in item.paths:
        problem = _problem(path, real_root)
        if problem:
            errors.append(f"{path.name}: {problem}; kept")
            continue
        _files_of(path, before)
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, onerror=lambda _f, p, e: errors.append(f"{Path(p).name}: {_why(e[1])}"))
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            errors.append(f"{path.name}: {_why(e)}")
    return ItemOutcome((item.label,), freed_since(before), tuple(errors))


def _problem(path: Path, real_root: str) -> str:
    """Why `path` may not go now (empty: it may)."""
    where = os.path.join(os.path.realpath(path.parent), path.name)
    if not where.startswith(real_root + os.sep):
        return "outside its folder or behind a link"
    if path.name.endswith(".lock") and lock_is_held(path):
        return "its lock is held now"
    base = path.name
    for suffix in (".json", ".incomplete"):
        base = base.removesuffix(suffix)
    sibling = path.with_name(base + ".lock")
    if sibling != path and lock_is_held(sibling):
        return "its lock is held now"
    return ""


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
