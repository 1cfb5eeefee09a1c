"""What the downloads pane's keys start: plan and start downloads; confirm, then cancel, retry, stop
or take over in a worker; open the details. Called by the dashboard for the pane's requests."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.notifications import SeverityLevel

from tui.actions.processes import ActionRefused, AlreadyGone, delete_orphan, stop_process
from tui.core import formatting as fmt
from tui.core.download_plan import DownloadPlan, DownloadRequest, RequestError
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload, running_overlap
from tui.probes.hub import plan_download
from tui.screens.add_download import AddDownloadScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.download_details import DownloadDetailsScreen
from tui.screens.restart import RestartScreen, Transport

if TYPE_CHECKING:
    from tui.screens.dashboard import DashboardScreen

GROUP = "downloads"
"""The worker group of every download action (its errors are reported under that name)."""


class DownloadFlows:
    """The dialogs and action workers of the downloads pane, run on the dashboard screen."""

    def __init__(self, dashboard: DashboardScreen) -> None:
        self.dashboard = dashboard

    # --- helpers -------------------------------------------------------------------------
    def _in_worker(self, work: Callable[[], object], name: str) -> None:
        self.dashboard.run_worker(work, name=name, group=GROUP, thread=True, exit_on_error=False)

    def _notify_from_worker(self, message: str, severity: SeverityLevel = "information", timeout: float = 8) -> None:
        self.dashboard.app.call_from_thread(self.dashboard.notify, message, severity=severity, timeout=timeout)

    def _done(self) -> None:
        """A download changed: show it at once instead of at the next tick (from a worker)."""
        self.dashboard.app.call_from_thread(self.dashboard.snapshot_now)

    def plan(self, request: DownloadRequest) -> DownloadPlan:
        """Ask the endpoint what `request` means (blocking: call it from a worker)."""
        d = self.dashboard
        plan = plan_download(
            request,
            endpoint=d.settings.endpoint,
            cache_dir=d.settings.cache_dir,
            token=None if d.send_token else False,
        )
        busy = running_overlap(plan, d.supervisor.views())
        if busy is not None:
            raise RequestError(f"hftop is already downloading {busy.request.label}: wait for it, or cancel it first.")
        return plan

    # --- starting ----------------------------------------------------------------------------
    def add(self) -> None:
        d = self.dashboard
        if d.refused_read_only("start downloads"):
            return
        note = "your token is sent" if d.send_token else "no token is sent"
        d.app.push_screen(AddDownloadScreen(self.plan, d.settings.endpoint, note), self._start_plan)

    def _start_plan(self, plan: DownloadPlan | None) -> None:
        if plan is not None:
            self.start_planned(plan)
            self.dashboard.downloads_pane.table.focus()

    def start_planned(self, plan: DownloadPlan) -> None:
        def start() -> None:
            self.dashboard.supervisor.start(plan)
            self._done()

        self._in_worker(start, "start")

    def start_requested(self, requests: tuple[DownloadRequest, ...]) -> None:
        """Plan and start each request (the demo's downloads); a request that fails is said in words."""

        def start() -> None:
            for request in requests:
                try:
                    self.dashboard.supervisor.start(self.plan(request))
                except RequestError as error:
                    self._notify_from_worker(f"{request.label}: {error}", severity="error", timeout=10)
            self._done()

        self._in_worker(start, "start")

    # --- hftop's own downloads -----------------------------------------------------------------
    def cancel(self, view: DownloadView) -> None:
        if self.dashboard.refused_read_only("cancel downloads"):
            return
        self._confirm_then(view, "Cancel", "Keep it", self._cancel, "\nFiles it finished stay in the cache.")

    def retry(self, view: DownloadView) -> None:
        if self.dashboard.refused_read_only("restart downloads"):
            return
        if view.transport == "Xet" and view.state in (
            DownloadState.STALLED,
            DownloadState.SLOW_TAIL,
            DownloadState.FAILED,
        ):
            self._offer_plain_http(view)
            return
        if not view.state.active:
            self._retry(view.id)  # its process is gone and took its partial file along
            return
        self._confirm_then(view, "Restart", "Keep waiting", self._retry)

    def _confirm_then(
        self, view: DownloadView, verb: str, keep: str, act: Callable[[int], None], note: str = ""
    ) -> None:
        """Say what stopping `view`'s process throws away, and `act` on its id if the user agrees."""
        body = Text.assemble(f"{verb} ", (view.request.label, "bold"), "?\n\n", _throw_away(view), note)
        self.dashboard.app.push_screen(
            ConfirmScreen(f"{verb} download", body, f"{verb} download", keep),
            lambda yes: act(view.id) if yes else None,
        )

    def _cancel(self, download_id: int) -> None:
        def cancel() -> None:
            self.dashboard.supervisor.cancel(download_id)
            self._done()

        self._in_worker(cancel, "cancel")

    def _offer_plain_http(self, view: DownloadView) -> None:
        """A Xet download that is stalled, crawls or failed: restart it over plain HTTP, the usual cure, or over Xet."""
        lost = _throw_away(view) if view.state.active else Text("Its process is gone; nothing more is lost.")
        body = Text.assemble(
            "Restart ", (view.request.label, "bold"), f"? It is {view.state.value} over Xet.\n\n", lost, "\n\n",
            "Over plain HTTP (HF_HUB_DISABLE_XET=1), huggingface_hub fetches the same file from the resolve URL's "
            "download server instead of hf_xet's CAS and xorb storage: the fix for a stuck Xet transfer.",
        )  # fmt: skip
        self.dashboard.app.push_screen(
            RestartScreen(body, "Keep waiting" if view.state.active else "Leave it"),
            lambda transport: self._retry(view.id, transport) if transport else None,
        )

    def _retry(self, download_id: int, transport: Transport | None = None) -> None:
        def retry() -> None:
            self.dashboard.supervisor.retry(
                download_id, disable_xet=None if transport is None else transport == "plain"
            )
            self._done()

        self._in_worker(retry, "retry")

    def details(self, key: str) -> None:
        self.dashboard.app.push_screen(DownloadDetailsScreen(self.dashboard.snapshot, key))

    # --- other programs' downloads -------------------------------------------------------------
    def stop_other(self, row: ExternalDownload) -> None:
        d = self.dashboard
        if d.refused_read_only("stop processes or delete files"):
            return
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
        d.app.push_screen(screen, lambda yes: self._in_worker(partial(self._stop_other, row), "stop") if yes else None)

    def _stop_other(self, row: ExternalDownload) -> None:
        try:
            if row.owner_pid is None:
                freed = delete_orphan(self.dashboard.settings.cache_dir, row.key)
                self._notify_from_worker(
                    f"Deleted the partial file of {row.label}: {fmt.size(freed)} freed.", timeout=5
                )
            else:
                stop_process(row.owner_pid, row.owner_command)
                after = "" if row.waiting_for is not None else "; its partial file is an orphan now"
                self._notify_from_worker(f"Stopped process {row.owner_pid}{after}.", timeout=5)
        except ActionRefused as error:
            self._notify_from_worker(str(error), severity="warning")
        self._done()

    def take_over(self, row: ExternalDownload) -> None:
        d = self.dashboard
        if d.refused_read_only("stop processes or fetch their files"):
            return
        first = (
            f"Process {row.owner_pid} ({row.owner_command}) is stopped first, then its partial file "
            if row.owner_pid is not None
            else "The partial file its dead download left "
        )
        over = " over plain HTTP (HF_HUB_DISABLE_XET=1), as it is stuck over Xet" if _stuck_on_xet(row) else ""
        body = Text.assemble(
            "Fetch ", (f"{row.label} {row.file_name}", "bold"), " with hftop?\n\n",
            f"{first}({fmt.size(row.progress.real_bytes)}) is deleted, and hftop downloads the file again from "
            f"{d.settings.endpoint}{over}: huggingface_hub cannot resume. When the program runs again, it finds "
            "the file in the cache.",
        )  # fmt: skip
        d.app.push_screen(
            ConfirmScreen("Take over a download", body, "Fetch it", "Leave it"),
            lambda yes: self._in_worker(partial(self._take_over, row), "take over") if yes else None,
        )

    def _take_over(self, row: ExternalDownload) -> None:
        request = DownloadRequest(
            row.repo_id,
            row.repo_type,
            revision=row.commit or "main",
            patterns=(row.file_name or "",),
            disable_xet=_stuck_on_xet(row),
        )
        try:
            if row.owner_pid is not None:
                stop_process(row.owner_pid, row.owner_command)
            try:
                delete_orphan(self.dashboard.settings.cache_dir, row.key, wait=5.0)
            except AlreadyGone:
                pass  # the program deleted its partial file itself when it stopped
            self.dashboard.supervisor.start(self.plan(request))
        except (ActionRefused, RequestError) as error:
            self._notify_from_worker(f"{row.label}: {error}", severity="warning")
        self._done()


def _stuck_on_xet(row: ExternalDownload) -> bool:
    """Its program fetches it over Xet and it is stuck: hftop fetches it over plain HTTP instead."""
    return row.transport is not None and row.transport[0] == "Xet" and row.state is DownloadState.STALLED


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
