"""What the folders pane's keys start: a review of the cleanup (or of the marked Arrow caches), then the
deleting, in a worker, against a fresh look at both folders."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text

from tui.actions.cleanup import DeletionOutcome
from tui.actions.folders import FolderPlanChanged, execute_folder_cleanup
from tui.core import formatting as fmt
from tui.core.folders import FolderCleanupItem, FolderCleanupPlan, plan_folder_cleanup
from tui.probes.hf_folders import scan_hf_folders
from tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from tui.screens.dashboard import DashboardScreen


class FolderFlows:
    """The review and the cleanup worker of the folders pane, run on the dashboard screen."""

    def __init__(self, dashboard: DashboardScreen) -> None:
        self.dashboard = dashboard

    def _in_worker(self, work: Callable[[], object], name: str) -> None:
        self.dashboard.run_worker(work, name=name, group="folders", thread=True, exclusive=True, exit_on_error=False)

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        self.dashboard.app.call_from_thread(callback, *args)

    def clean_up(self, marks: frozenset[str], marked_only: bool) -> None:
        if self.dashboard.refused_read_only("clean up anything"):
            return
        self._review(marks, marked_only)

    def _plan(self, marks: frozenset[str], marked_only: bool) -> FolderCleanupPlan:
        monitor = self.dashboard.monitor
        return plan_folder_cleanup(scan_hf_folders(monitor.xet_dir, monitor.datasets_dir), marks, marked_only)

    def _review(self, marks: frozenset[str], marked_only: bool, note: str = "") -> None:
        def review() -> None:
            self._call(self._ask, marks, marked_only, self._plan(marks, marked_only), note)

        self._in_worker(review, "review folders")

    def _ask(self, marks: frozenset[str], marked_only: bool, plan: FolderCleanupPlan, note: str) -> None:
        if not plan.items:
            self.dashboard.notify(
                "Nothing to clean up: no log of a gone process older than a day, no staging or chunk cache left "
                "unused, no datasets download nobody holds, no unheld lock file, no Arrow cache marked.",
                timeout=8,
            )
            return
        lines = [Text(note + "\n", style="bold yellow")] if note else []
        lines += [_item_line(item) for item in plan.items]
        lines.append(
            Text.assemble(
                "\n",
                (f"Deleting {fmt.count(len(plan.deletable), 'part')} frees {fmt.size(plan.frees)}.", "bold"),
                " What a live process has open, maps or locks is never in this list, and is checked again just "
                "before each part goes.",
            )
        )
        title = "Delete marked Arrow caches" if marked_only else "Clean up the xet folder and the datasets cache"
        app = self.dashboard.app
        if not plan.deletable:
            app.push_screen(ConfirmScreen("Nothing to delete", Text("\n").join(lines), "Close", "Close"))
            return
        app.push_screen(
            ConfirmScreen(title, Text("\n").join(lines), "Delete", "Keep all"),
            lambda yes: self._carry_out(marks, marked_only, plan) if yes else None,
        )

    def _carry_out(self, marks: frozenset[str], marked_only: bool, shown: FolderCleanupPlan) -> None:
        monitor = self.dashboard.monitor

        def carry_out() -> None:
            try:
                outcome = execute_folder_cleanup(shown, marks, monitor.xet_dir, monitor.datasets_dir, marked_only)
            except FolderPlanChanged as changed:
                note = "The folders changed since the plan was made: this is the plan now."
                self._call(self._ask, marks, marked_only, changed.plan, note)
                return
            self._call(self._done, outcome)

        self._in_worker(carry_out, "clean up folders")

    def _done(self, outcome: DeletionOutcome) -> None:
        d = self.dashboard
        d.folders_pane.marks = frozenset()
        d.request_folders()
        freed = fmt.size(outcome.freed)
        refused = [item for item in outcome.items if item.errors]
        if not refused:
            d.notify(f"Cleaned up: {freed} freed.", timeout=6)
            return
        went = len(outcome.items) - len(refused)
        d.notify(f"Deleted {went} of {fmt.count(len(outcome.items), 'part')}: {freed} freed.", severity="warning")
        for item in refused[:5]:
            d.notify(f"Not all of {item.labels[0]} went: {item.errors[0]}", severity="error", timeout=12)


def _item_line(item: FolderCleanupItem) -> Text:
    if item.refused:
        return Text.assemble(("  kept  ", "yellow"), item.label, (f": {item.refused}", "yellow"))
    what = f" ({len(item.paths)} entries)" if len(item.paths) > 1 else ""
    return Text.assemble((f"{fmt.size(item.frees):>9}  ", "bold"), item.label, what)
