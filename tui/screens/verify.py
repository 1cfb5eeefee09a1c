"""`v` in the cache pane: hash a revision's (or a repo's) files in a worker and compare each with
its blob's name, with a progress bar; mismatches can be marked for deletion."""

from __future__ import annotations

import threading

from huggingface_hub import CachedFileInfo
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from tui.core import formatting as fmt
from tui.probes.verify import VerifyResult, verify_files


class VerifyScreen(ModalScreen[tuple[CachedFileInfo, ...]]):
    """Dismisses with the mismatched files when the user marks them (`m`), else with none."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("m", "mark", "Mark mismatches"),
    ]

    def __init__(self, label: str, files: tuple[CachedFileInfo, ...]) -> None:
        super().__init__()
        self.label = label
        self.files = files
        self.result: VerifyResult | None = None
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical(id="verify-body"):
            blobs = len({f.blob_path for f in self.files})
            shared = f" ({len(self.files)} paths: some share a blob)" if blobs != len(self.files) else ""
            yield Static(f"Checking {fmt.count(blobs, 'file')}{shared} against their names…", id="verify-what")
            yield ProgressBar(total=max(1, sum(f.size_on_disk for f in self.files)), id="verify-progress")
            yield Static(id="verify-result")
            yield Static(Text("Esc closes (and stops the check)", style="dim"), id="verify-keys")

    def on_mount(self) -> None:
        self.query_one("#verify-body").border_title = f"Verify {self.label}"
        self._check()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _check(self) -> None:
        bar = self.query_one("#verify-progress", ProgressBar)
        last = [0]

        def progress(done: int, total: int) -> None:
            if done - last[0] >= 4 * 1024 * 1024 or done == total:  # a redraw every 4 MB is plenty
                last[0] = done
                self.app.call_from_thread(bar.update, progress=done)

        result = verify_files(self.files, progress, self._cancel)
        if not self._cancel.is_set():
            self.app.call_from_thread(self._show, result)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.query_one("#verify-result", Static).update(
                Text(f"The check stopped: {event.worker.error}", style="bold red")
            )
            self.query_one("#verify-keys", Static).update(Text("Esc closes", style="dim"))

    def _show(self, result: VerifyResult) -> None:
        self.result = result
        # Done: the line above the bar says so, and the bar's countdown (`--:--:--` once at 100 %) goes.
        bar = self.query_one("#verify-progress", ProgressBar)
        bar.update(progress=bar.total or 1)
        for eta in bar.query("#eta"):
            eta.display = False
        trouble = len(result.mismatches) + len(result.unreadable)
        verdict = f": {fmt.count(trouble, 'problem')}" if trouble else ": all good"
        self.query_one("#verify-what", Static).update(
            Text.assemble(
                ("Done", "bold green" if not trouble else "bold red"),
                f" checking {fmt.count(result.checked, 'file')}{verdict}.",
            )
        )
        self.query_one("#verify-body").border_title = f"Verify {self.label} · done"
        lines = []
        if not result.mismatches and not result.unreadable:
            lines.append(Text(f"All {fmt.count(result.checked, 'file')} match their names.", style="bold green"))
        for m in result.mismatches:
            lines.append(
                Text.assemble(
                    ("MISMATCH ", "bold red"), m.file.file_name, f"  {m.algorithm} is {m.actual[:12]}…, "
                    f"its name says {m.expected[:12]}…",
                )
            )  # fmt: skip
        for file, reason in result.unreadable:
            lines.append(Text.assemble(("UNREADABLE ", "bold red"), file.file_name, f"  {reason}"))
        if result.skipped:
            lines.append(Text(f"{fmt.count(result.skipped, 'file')} not named by a hash: not checked", style="dim"))
        self.query_one("#verify-result", Static).update(Text("\n").join(lines))
        keys = "m marks the mismatched files for deletion (then d) · Esc closes" if result.mismatches else "Esc closes"
        self.query_one("#verify-keys", Static).update(Text(keys, style="dim"))

    def action_mark(self) -> None:
        if self.result is not None and self.result.mismatches:
            self.dismiss(tuple(m.file for m in self.result.mismatches))

    def action_close(self) -> None:
        self._cancel.set()
        self.dismiss(())
