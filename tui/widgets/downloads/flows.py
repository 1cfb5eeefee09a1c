"""What the app does for the downloads pane: plan and start downloads, confirm and carry out
cancel, retry, stop and take-over, open details. A mixin of HfTopApp, so app.py stays wiring.

Handlers use Textual's naming convention (`on_downloads_pane_…`) rather than `@on`, which only
registers on classes Textual itself builds.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work

from tui.core import formatting as fmt
from tui.core.download_plan import DownloadPlan, DownloadRequest, RequestError
from tui.core.downloads import DownloadView, ExternalDownload, running_overlap
from tui.downloads.others import ActionRefused, AlreadyGone, delete_orphan, stop_process
from tui.messages import DownloadsSampled
from tui.probes.hub import plan_download
from tui.screens.add_download import AddDownloadScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.download_details import DownloadDetailsScreen
from tui.widgets.downloads_pane import DownloadsPane


class DownloadActions:
    """Mixed into HfTopApp; uses its `settings`, `downloads`, `downloads_pane` and `send_token`."""

    def plan(self, request: DownloadRequest) -> DownloadPlan:
        """Ask the endpoint what `request` means (blocking: call it from a worker)."""
        plan = plan_download(
            request,
            endpoint=self.settings.endpoint,
            cache_dir=self.settings.cache_dir,
            token=None if self.send_token else False,
        )
        busy = running_overlap(plan, self.downloads.views())
        if busy is not None:
            raise RequestError(f"hftop is already downloading {busy.request.label}: wait for it, or cancel it first.")
        return plan

    def action_add_download(self) -> None:
        if self.refused_read_only("start downloads"):
            return
        note = "your token is sent" if self.send_token else "no token is sent"
        self.push_screen(AddDownloadScreen(self.plan, self.settings.endpoint, note), self._start_plan)

    def _start_plan(self, plan: DownloadPlan | None) -> None:
        if plan is not None:
            self._start_planned(plan)
            self.downloads_pane.table.focus()

    @work(thread=True, group="downloads", exit_on_error=False)
    def _start_planned(self, plan: DownloadPlan) -> None:
        self.downloads.start(plan)
        self.post_message(DownloadsSampled(self.downloads.views()))

    @work(thread=True, group="downloads", exit_on_error=False)
    def _start_requested(self, requests: tuple[DownloadRequest, ...]) -> None:
        for request in requests:
            try:
                self.downloads.start(self.plan(request))
            except RequestError as error:
                self.call_from_thread(self.notify, f"{request.label}: {error}", severity="error", timeout=10)
        self.post_message(DownloadsSampled(self.downloads.views()))

    def on_downloads_pane_cancel_requested(self, message: DownloadsPane.CancelRequested) -> None:
        if self.refused_read_only("cancel downloads"):
            return
        self._confirm_then(message.view, "Cancel", "Keep it", self._cancel, "\nFiles it finished stay in the cache.")

    def on_downloads_pane_retry_requested(self, message: DownloadsPane.RetryRequested) -> None:
        if self.refused_read_only("restart downloads"):
            return
        if not message.view.state.active:
            self._retry(message.view.id)  # its process is gone and took its partial file along
            return
        self._confirm_then(message.view, "Restart", "Keep waiting", self._retry)

    def _confirm_then(
        self, view: DownloadView, verb: str, keep: str, act: Callable[[int], object], note: str = ""
    ) -> None:
        """Say what stopping `view`'s process throws away, and `act` on its id if the user agrees."""
        body = Text.assemble(f"{verb} ", (view.request.label, "bold"), "?\n\n", _throw_away(view), note)
        self.push_screen(
            ConfirmScreen(f"{verb} download", body, f"{verb} download", keep),
            lambda yes: act(view.id) if yes else None,
        )

    def on_downloads_pane_details_requested(self, message: DownloadsPane.DetailsRequested) -> None:
        self.push_screen(DownloadDetailsScreen(self.downloads_pane, message.key))

    def on_downloads_pane_stop_other_requested(self, message: DownloadsPane.StopOtherRequested) -> None:
        if self.refused_read_only("stop processes or delete files"):
            return
        row = message.row
        name = row.file_name or f"blob {row.etag[:12]}"
        size = fmt.size(row.progress.real_bytes)
        if row.owner_pid is None:
            body = Text.assemble(
                "Delete the partial file of ", (f"{row.label} {name}", "bold"), "?\n\n",
                f"No process has it open and its lock is free: its download died, and huggingface_hub never "
                f"resumes it. Deleting frees {size}.\n\n{row.key}",
            )  # fmt: skip
            screen = ConfirmScreen("Delete orphaned partial file", body, "Delete", "Keep it")
        else:
            doing = (
                f"It waits for process {row.waiting_for}, which downloads {row.label} {name}. Stopping it ends "
                "that program; the other download goes on."
                if row.waiting_for is not None
                else f"It is downloading {row.label} {name} ({size} so far). Stopping it throws those bytes away "
                "(huggingface_hub cannot resume), and the program itself ends."
            )
            body = Text.assemble(
                "Stop process ", (str(row.owner_pid), "bold"), "?\n\n", (row.owner_command or "?", "bold"), "\n\n",
                doing,
            )  # fmt: skip
            screen = ConfirmScreen("Stop another program's download", body, "Stop it", "Leave it")
        self.push_screen(screen, lambda yes: self._stop_other(row) if yes else None)

    def on_downloads_pane_take_over_requested(self, message: DownloadsPane.TakeOverRequested) -> None:
        if self.refused_read_only("stop processes or fetch their files"):
            return
        row = message.row
        first = (
            f"Process {row.owner_pid} ({row.owner_command}) is stopped first, then its partial file "
            if row.owner_pid is not None
            else "The partial file its dead download left "
        )
        body = Text.assemble(
            "Fetch ", (f"{row.label} {row.file_name}", "bold"), " with hftop?\n\n",
            f"{first}({fmt.size(row.progress.real_bytes)}) is deleted, and hftop downloads the file again from "
            f"{self.settings.endpoint}: huggingface_hub cannot resume. When the program runs again, it finds "
            "the file in the cache.",
        )  # fmt: skip
        self.push_screen(
            ConfirmScreen("Take over a download", body, "Fetch it", "Leave it"),
            lambda yes: self._take_over(row) if yes else None,
        )

    @work(thread=True, group="downloads", exit_on_error=False)
    def _take_over(self, row: ExternalDownload) -> None:
        request = DownloadRequest(
            row.repo_id, row.repo_type, revision=row.commit or "main", patterns=(row.file_name or "",)
        )
        try:
            if row.owner_pid is not None:
                stop_process(row.owner_pid, row.owner_command)
            try:
                delete_orphan(self.settings.cache_dir, row.key, wait=5.0)
            except AlreadyGone:
                pass  # the program deleted its partial file itself when it stopped
            self.downloads.start(self.plan(request))
        except (ActionRefused, RequestError) as error:
            self.call_from_thread(self.notify, f"{row.label}: {error}", severity="warning", timeout=8)
        self.post_message(DownloadsSampled(self.downloads.views()))

    @work(thread=True, group="downloads", exit_on_error=False)
    def _stop_other(self, row: ExternalDownload) -> None:
        try:
            if row.owner_pid is None:
                freed = delete_orphan(self.settings.cache_dir, row.key)
                self.call_from_thread(self.notify, f"Deleted the partial file of {row.label}: {fmt.size(freed)} freed.")
            else:
                stop_process(row.owner_pid, row.owner_command)
                after = "" if row.waiting_for is not None else "; its partial file is an orphan now"
                self.call_from_thread(self.notify, f"Stopped process {row.owner_pid}{after}.")
        except ActionRefused as error:
            self.call_from_thread(self.notify, str(error), severity="warning", timeout=8)

    @work(thread=True, group="downloads", exit_on_error=False)
    def _cancel(self, download_id: int) -> None:
        self.downloads.cancel(download_id)
        self.post_message(DownloadsSampled(self.downloads.views()))

    @work(thread=True, group="downloads", exit_on_error=False)
    def _retry(self, download_id: int) -> None:
        self.downloads.retry(download_id)
        self.post_message(DownloadsSampled(self.downloads.views()))


def _throw_away(view: DownloadView) -> Text:
    if view.partial_bytes and view.current_file:
        return Text.assemble(
            ("This throws away ", ""),
            (fmt.size(view.partial_bytes), "bold red"),
            (
                f" of {view.current_file}: huggingface_hub cannot resume across runs, so the file starts again from 0.",
                "",
            ),
        )
    return Text("Nothing downloaded so far is lost: no file is half done.")
