"""What the cache pane's keys start: work out what the marks free, review and delete them, prune,
verify. Called by the dashboard for the pane's requests; the deleting runs in workers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub import CachedFileInfo, DeleteCacheStrategy, HFCacheInfo
from rich.text import Text

from tui.actions.cleanup import DeletionOutcome, PlanChanged, execute_deletion, execute_prune, outside_paths
from tui.core import formatting as fmt
from tui.core.cleanup import DeletionPlan, Mark, PlanItem, plan_deletion
from tui.probes.cache_scan import scan_cache
from tui.probes.cleanup import busy_repos, current_plan
from tui.probes.prune import PrunePlan, plan_prune
from tui.screens.confirm import ConfirmScreen
from tui.screens.verify import VerifyScreen
from tui.widgets.cache.pane import CachePane

if TYPE_CHECKING:
    from tui.screens.dashboard import DashboardScreen


class CacheFlows:
    """The reviews and action workers of the cache pane, run on the dashboard screen."""

    def __init__(self, dashboard: DashboardScreen) -> None:
        self.dashboard = dashboard

    def _in_worker(self, work: Callable[[], object], group: str, name: str) -> None:
        self.dashboard.run_worker(work, name=name, group=group, thread=True, exclusive=True, exit_on_error=False)

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback` on the UI thread (from a worker)."""
        self.dashboard.app.call_from_thread(callback, *args)

    @property
    def _pane(self) -> CachePane:
        return self.dashboard.cache_pane

    # --- what the marks free ----------------------------------------------------------------
    def marks_changed(self, marks: frozenset[Mark]) -> None:
        scan = self.dashboard.last_scan
        if scan is None or scan.info is None:
            return
        info = scan.info

        def work_out() -> None:
            # huggingface_hub may stat the shared Xet store to tell what a blob frees: off the UI thread.
            frees = plan_deletion(info, marks, {}).frees if marks else 0
            self._call(self._show_frees, marks, frees)

        self._in_worker(work_out, "marks", "will free")

    def _show_frees(self, marks: frozenset[Mark], frees: int) -> None:
        if self._pane.marks == marks:
            self._pane.will_free = frees

    def _fresh_cache_info(self) -> HFCacheInfo | None:
        """A new scan of the cache (in the calling worker), or None after saying why there is none."""
        scan = scan_cache(self.dashboard.settings.cache_dir)
        if scan.info is None:
            self._call(partial(self.dashboard.notify, scan.error or "The cache is gone.", severity="error"))
        return scan.info

    # --- delete -------------------------------------------------------------------------------
    def delete(self, marks: frozenset[Mark]) -> None:
        if self.dashboard.refused_read_only("delete anything"):
            return
        self._review(marks)

    def _review(self, marks: frozenset[Mark], note: str = "") -> None:
        cache_dir = self.dashboard.settings.cache_dir

        def review() -> None:
            info = self._fresh_cache_info()
            if info is not None:
                self._call(self._ask, marks, current_plan(info, marks, cache_dir), note)

        self._in_worker(review, "cleanup", "review")

    def _ask(self, marks: frozenset[Mark], plan: DeletionPlan, note: str) -> None:
        lines = [Text(note + "\n", style="bold yellow")] if note else []
        lines += [_item_line(item) for item in plan.items]
        deletable = len(plan.deletable)
        lines.append(
            Text.assemble(
                "\n",
                (f"Deleting {fmt.count(deletable, 'item')} frees {fmt.size(plan.frees)}", "bold"),
                " (a blob another revision still uses stays). Files a running download writes are never touched.",
            )
        )
        app = self.dashboard.app
        if not deletable:
            app.push_screen(ConfirmScreen("Nothing to delete", Text("\n").join(lines), "Close", "Close"))
            return
        app.push_screen(
            ConfirmScreen("Delete from the cache", Text("\n").join(lines), "Delete", "Keep all"),
            lambda yes: self._delete(marks, plan) if yes else None,
        )

    def _delete(self, marks: frozenset[Mark], shown: DeletionPlan) -> None:
        cache_dir = self.dashboard.settings.cache_dir

        def delete() -> None:
            info = self._fresh_cache_info()
            if info is None:
                return
            try:
                outcome = execute_deletion(shown, marks, info, cache_dir)
            except PlanChanged as changed:
                note = "The cache changed since the plan was made: this is the plan now."
                self._call(self._ask, marks, changed.plan, note)
                return
            self._call(self._deleted, outcome)

        self._in_worker(delete, "cleanup", "delete")

    def _deleted(self, outcome: DeletionOutcome, clear_marks: bool = True) -> None:
        d = self.dashboard
        if clear_marks:
            self._pane.marks = frozenset()
        d.request_rescan()
        freed = fmt.size(outcome.freed)
        refused = [item for item in outcome.items if item.errors]
        if not outcome.errors:
            d.notify(f"Deleted: {freed} freed.", timeout=6)
        elif outcome.items:
            went = len(outcome.items) - len(refused)
            d.notify(f"Deleted {went} of {fmt.count(len(outcome.items), 'part')}: {freed} freed.", severity="warning")
        else:
            d.notify(f"Deleted what could be: {freed} freed.", severity="warning", timeout=8)
        lines = [f"Not deleted, {', '.join(item.labels)}: {item.errors[0]}" for item in refused]
        in_items = {e for item in outcome.items for e in item.errors}
        lines += [e for e in outcome.errors if e not in in_items]
        for line in lines[:5]:
            d.notify(line, severity="error", timeout=12)
        if len(lines) > 5:
            d.notify(f"…and {len(lines) - 5} more that could not be deleted.", severity="error", timeout=12)

    # --- a corrupted repo folder (from `w`) ----------------------------------------------------
    def delete_corrupted(self, folder: Path) -> None:
        """Review, then delete, a repo folder huggingface_hub cannot read: only the folder shown, only while a
        fresh scan still warns about it, no live download writes into it, and it lies in the cache."""
        if self.dashboard.refused_read_only("delete anything"):
            return
        cache_dir = self.dashboard.settings.cache_dir

        def review() -> None:
            problem = _corrupted_folder_problem(folder, cache_dir)
            if problem is not None:
                self._call(partial(self.dashboard.notify, problem, severity="warning", timeout=8))
                return
            self._call(self._ask_corrupted, folder, _folder_size(folder))

        self._in_worker(review, "cleanup", "review corrupted")

    def _ask_corrupted(self, folder: Path, size: int) -> None:
        body = Text.assemble(
            "huggingface_hub cannot read this repo folder, so it is in no list and no total:\n\n",
            (str(folder), "bold"),
            f"\n{fmt.size(size)} in it.",
            "\n\nDeleting it removes the folder and everything in it; a download run again fetches the repo anew. "
            "hftop checks first that the cache still warns about it and that no download writes into it.",
        )
        self.dashboard.app.push_screen(
            ConfirmScreen("Delete a corrupted repo folder", body, "Delete", "Keep it"),
            lambda yes: self._delete_corrupted(folder, size) if yes else None,
        )

    def _delete_corrupted(self, folder: Path, size: int) -> None:
        cache_dir = self.dashboard.settings.cache_dir

        def delete() -> None:
            problem = _corrupted_folder_problem(folder, cache_dir)
            if problem is not None:
                self._call(partial(self.dashboard.notify, problem, severity="warning", timeout=8))
                return
            strategy = DeleteCacheStrategy(
                expected_freed_size=size,
                blobs=frozenset(),
                refs=frozenset(),
                repos=frozenset({folder}),
                snapshots=frozenset(),
            )
            errors: tuple[str, ...]
            if outside_paths(strategy, cache_dir):
                errors = (f"{folder}: outside the cache or a link; nothing was deleted",)
                self._call(self._deleted, DeletionOutcome(0, errors), False)
                return
            strategy.execute()
            errors = (f"{folder}: could not be deleted (permission denied?)",) if folder.exists() else ()
            self._call(self._deleted, DeletionOutcome(0 if errors else size, errors), False)

        self._in_worker(delete, "cleanup", "delete corrupted")

    # --- prune --------------------------------------------------------------------------------
    def prune(self) -> None:
        if self.dashboard.refused_read_only("prune anything"):
            return
        self._plan_prune()

    def _plan_prune(self, note: str = "") -> None:
        cache_dir = self.dashboard.settings.cache_dir

        def plan() -> None:
            info = self._fresh_cache_info()
            if info is not None:
                self._call(self._ask_prune, plan_prune(info, cache_dir, time.time()), note)

        self._in_worker(plan, "cleanup", "plan prune")

    def _ask_prune(self, plan: PrunePlan, note: str) -> None:
        if plan.empty:
            self.dashboard.notify(
                "Nothing to prune: no detached revision, no orphaned partial file, no unheld lock file, no shared "
                "blob that no repo links to."
            )
            return
        lines = [Text(note + "\n", style="bold yellow")] if note else []
        lines += [_item_line(item, " (detached)") for item in plan.revisions.items]
        for path, size in plan.orphans:
            repo = path.parent.parent.name
            lines.append(Text.assemble((f"{fmt.size(size):>9}  ", "bold"), f"{repo}: partial file of a dead download"))
        for path, size in plan.shared_blobs:
            lines.append(
                Text.assemble((f"{fmt.size(size):>9}  ", "bold"), f"shared blob {path.name[:12]}…: no repo links to it")
            )
        if plan.stale_locks:
            lines.append(Text(f"{'0 B':>9}  {fmt.count(len(plan.stale_locks), 'lock file')} nobody holds"))
        if plan.store_leftovers:
            lines.append(
                Text(
                    f"{'0 B':>9}  {fmt.count(len(plan.store_leftovers), 'file')} the shared store left beside gone blobs"
                )
            )
        lines.append(
            Text.assemble(
                "\n",
                (f"Pruning frees {fmt.size(plan.frees)}.", "bold"),
                " A partial file a live download writes, and its lock, are never in this list.",
            )
        )
        self.dashboard.app.push_screen(
            ConfirmScreen("Prune the cache", Text("\n").join(lines), "Prune", "Keep all"),
            lambda yes: self._carry_out_prune(plan) if yes else None,
        )

    def _carry_out_prune(self, shown: PrunePlan) -> None:
        cache_dir = self.dashboard.settings.cache_dir

        def carry_out() -> None:
            info = self._fresh_cache_info()
            if info is None:
                return
            try:
                outcome = execute_prune(shown, info, cache_dir)
            except PlanChanged:
                self._call(self._plan_prune, "The cache changed since the plan was made: this is the plan now.")
                return
            self._call(self._deleted, outcome, False)

        self._in_worker(carry_out, "cleanup", "prune")

    # --- verify -------------------------------------------------------------------------------
    def verify(self, request: CachePane.VerifyRequested) -> None:
        files = tuple(f for r in request.revisions for f in r.files)

        def mark(mismatched: tuple[CachedFileInfo, ...] | None) -> None:
            if mismatched:
                self._pane.mark_mismatches(request, mismatched)

        self.dashboard.app.push_screen(VerifyScreen(request.label, files), mark)


def _corrupted_folder_problem(folder: Path, cache_dir: Path) -> str | None:
    """Why `folder` is not to be deleted now (None: it may go). Reads the cache: call it in a worker."""
    scan = scan_cache(cache_dir)
    if scan.info is None:
        return scan.error or "The cache is gone."
    if not folder.exists():
        return f"{folder.name} is gone already."
    if not any(str(folder) in str(w) or folder.name in str(w) for w in scan.info.warnings):
        return f"The cache no longer warns about {folder.name}: hftop leaves it alone."
    if folder in busy_repos(cache_dir):
        return f"{folder.name}: {busy_repos(cache_dir)[folder]}; hftop leaves it alone."
    return None


def _folder_size(folder: Path) -> int:
    """Bytes on disk of the files under `folder` (links not followed)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _item_line(item: PlanItem, note: str = "") -> Text:
    """One line of a review: what the item frees, or why it is kept."""
    if item.refused:
        return Text.assemble(("  kept  ", "yellow"), item.label, (f": {item.refused}", "yellow"))
    return Text.assemble((f"{fmt.size(item.frees):>9}  ", "bold"), item.label, note)
