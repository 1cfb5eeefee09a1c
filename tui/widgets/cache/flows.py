"""What the app does for the cache pane's marks: work out what they free, review them, delete them.
A mixin of HfTopApp, like `download_actions`; handlers use Textual's `on_cache_pane_…` naming."""

from __future__ import annotations

from huggingface_hub import HFCacheInfo
from rich.text import Text
from textual import work

from tui.core import formatting as fmt
from tui.core.cleanup import DeletionPlan, Mark, PlanItem, plan_deletion
from tui.probes.cache_scan import scan_cache
from tui.probes.cleanup import PlanChanged, current_plan, execute
from tui.probes.prune import PrunePlan, execute_prune, plan_prune
from tui.screens.confirm import ConfirmScreen
from tui.widgets.cache_pane import CachePane


class CleanupActions:
    """Mixed into HfTopApp; uses its `settings`, `cache_pane`, `_last_scan` and `request_rescan`."""

    def on_cache_pane_marks_changed(self, message: CachePane.MarksChanged) -> None:
        self._work_out_frees(message.marks)

    @work(thread=True, group="marks", exclusive=True, exit_on_error=False)
    def _work_out_frees(self, marks: frozenset[Mark]) -> None:
        # huggingface_hub may stat the shared Xet store to tell what a blob frees: off the UI thread.
        scan = self._last_scan
        if scan is None or scan.info is None:
            return
        frees = plan_deletion(scan.info, marks, {}).frees if marks else 0
        self.call_from_thread(self._show_frees, marks, frees)

    def _show_frees(self, marks: frozenset[Mark], frees: int) -> None:
        if self.cache_pane.marks == marks:
            self.cache_pane.will_free = frees

    def _fresh_cache_info(self) -> HFCacheInfo | None:
        """A new scan of the cache (in the calling worker), or None after saying why there is none."""
        scan = scan_cache(self.settings.cache_dir)
        if scan.info is None:
            self.call_from_thread(self.notify, scan.error or "The cache is gone.", severity="error")
        return scan.info

    def on_cache_pane_delete_requested(self, message: CachePane.DeleteRequested) -> None:
        if self.refused_read_only("delete anything"):
            return
        self._review(message.marks)

    @work(thread=True, group="cleanup", exclusive=True, exit_on_error=False)
    def _review(self, marks: frozenset[Mark], note: str = "") -> None:
        info = self._fresh_cache_info()
        if info is None:
            return
        plan = current_plan(info, marks, self.settings.cache_dir)
        self.call_from_thread(self._ask, marks, plan, note)

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
        if not deletable:
            self.push_screen(ConfirmScreen("Nothing to delete", Text("\n").join(lines), "Close", "Close"))
            return
        self.push_screen(
            ConfirmScreen("Delete from the cache", Text("\n").join(lines), "Delete", "Keep all"),
            lambda yes: self._delete(marks, plan) if yes else None,
        )

    @work(thread=True, group="cleanup", exclusive=True, exit_on_error=False)
    def _delete(self, marks: frozenset[Mark], shown: DeletionPlan) -> None:
        info = self._fresh_cache_info()
        if info is None:
            return
        try:
            outcome = execute(shown, marks, info, self.settings.cache_dir)
        except PlanChanged as changed:
            note = "The cache changed since the plan was made: this is the plan now."
            self.call_from_thread(self._ask, marks, changed.plan, note)
            return
        self.call_from_thread(self._deleted, outcome.freed, outcome.errors)

    def _deleted(self, freed: int, errors: tuple[str, ...], clear_marks: bool = True) -> None:
        if clear_marks:
            self.cache_pane.marks = frozenset()
        self.request_rescan()
        if errors:
            self.notify(f"Deleted what could be; at most {fmt.size(freed)} freed.", severity="warning", timeout=8)
        else:
            self.notify(f"Deleted: {fmt.size(freed)} freed.", timeout=6)
        for error in errors[:5]:
            self.notify(error, severity="error", timeout=12)
        if len(errors) > 5:
            self.notify(f"…and {len(errors) - 5} more that could not be deleted.", severity="error", timeout=12)

    def on_cache_pane_prune_requested(self, message: CachePane.PruneRequested) -> None:
        if self.refused_read_only("prune anything"):
            return
        self._plan_prune()

    @work(thread=True, group="cleanup", exclusive=True, exit_on_error=False)
    def _plan_prune(self, note: str = "") -> None:
        info = self._fresh_cache_info()
        if info is None:
            return
        plan = plan_prune(info, self.settings.cache_dir)
        self.call_from_thread(self._ask_prune, plan, note)

    def _ask_prune(self, plan: PrunePlan, note: str) -> None:
        if plan.empty:
            self.notify("Nothing to prune: no detached revision, no orphaned partial file, no unheld lock file.")
            return
        lines = [Text(note + "\n", style="bold yellow")] if note else []
        lines += [_item_line(item, " (detached)") for item in plan.revisions.items]
        for path, size in plan.orphans:
            repo = path.parent.parent.name
            lines.append(Text.assemble((f"{fmt.size(size):>9}  ", "bold"), f"{repo}: partial file of a dead download"))
        if plan.stale_locks:
            lines.append(Text(f"{'0 B':>9}  {fmt.count(len(plan.stale_locks), 'lock file')} nobody holds"))
        lines.append(
            Text.assemble(
                "\n",
                (f"Pruning frees {fmt.size(plan.frees)}.", "bold"),
                " A partial file a live download writes, and its lock, are never in this list.",
            )
        )
        self.push_screen(
            ConfirmScreen("Prune the cache", Text("\n").join(lines), "Prune", "Keep all"),
            lambda yes: self._carry_out_prune(plan) if yes else None,
        )

    @work(thread=True, group="cleanup", exclusive=True, exit_on_error=False)
    def _carry_out_prune(self, shown: PrunePlan) -> None:
        info = self._fresh_cache_info()
        if info is None:
            return
        try:
            outcome = execute_prune(shown, info, self.settings.cache_dir)
        except PlanChanged:
            self.call_from_thread(self._plan_prune, "The cache changed since the plan was made: this is the plan now.")
            return
        self.call_from_thread(self._deleted, outcome.freed, outcome.errors, False)


def _item_line(item: PlanItem, note: str = "") -> Text:
    """One line of a review: what the item frees, or why it is kept."""
    if item.refused:
        return Text.assemble(("  kept  ", "yellow"), item.label, (f": {item.refused}", "yellow"))
    return Text.assemble((f"{fmt.size(item.frees):>9}  ", "bold"), item.label, note)
