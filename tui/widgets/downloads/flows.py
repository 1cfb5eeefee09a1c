"""What the downloads pane's keys start: plan and start downloads; confirm, then cancel, retry, stop
or take over in a worker; open the details. Called by the dashboard for the pane's requests."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.notifications import SeverityLevel

from tui.actions.processes import ActionRefused, delete_orphan, stop_process
from tui.actions.resume import keep_link
from tui.core import formatting as fmt
from tui.core.download_plan import DownloadPlan, DownloadRequest, RequestError
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload, running_overlap
from tui.probes.hub import plan_download
from tui.screens.add_download import AddDownloadScreen
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.download_details import DownloadDetailsScreen

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
        if not (view.on_disk and view.current_file):
            lost = (
                f"Nothing of {view.current_file} is on disk yet: the {fmt.size(view.partial_bytes)} that arrived "
                "are lost. "
                if view.partial_bytes and view.current_file
                else ""
            )
            body = Text.assemble(
                "Cancel ", (view.request.label, "bold"), "?\n\n", lost, "Files it finished stay in the cache."
            )
            self.dashboard.app.push_screen(
                ConfirmScreen("Cancel download", body, "Cancel download", "Keep it"),
                lambda yes: self._cancel(view.id) if yes else None,
            )
            return
        size = fmt.size(view.on_disk)
        body = Text.assemble(
            "Cancel ", (view.request.label, "bold"), "?\n\n",
            f"{view.current_file} has {size} on disk so far (more as it goes on until you answer). Cancelling "
            "deletes them, or keeps them so that R resumes the file from there later (hftop checks the whole file "
            "against its hash before it goes into the cache). Files it finished stay in the cache.",
        )  # fmt: skip
        choices = (
            Choice("delete", "Delete bytes", "y", "error"),
            Choice("keep", "Keep bytes", "k"),
            Choice(None, "Don't cancel", "n"),
        )
        self.dashboard.app.push_screen(
            ChoiceScreen("Cancel download", body, choices),
            lambda answer: self._cancel(view.id, keep=answer == "keep") if answer else None,
        )

    def discard_kept(self, view: DownloadView) -> None:
        """An ended download's kept bytes: delete them, after asking."""
        if self.dashboard.refused_read_only("delete kept bytes"):
            return
        file = view.current_file or "its unfinished file"
        body = Text.assemble(
            "Delete the bytes kept for ", (view.request.label, "bold"), "?\n\n",
            f"{fmt.size(view.kept_bytes)} of {file} are kept for R to resume from. Deleting them frees the space; "
            "R then fetches the file from 0. Files it finished stay in the cache.",
        )  # fmt: skip

        def discard() -> None:
            problem = self.dashboard.supervisor.discard_kept(view.id)
            if problem:
                self._notify_from_worker(f"{view.request.label}: {problem}", severity="warning")
            else:
                self._notify_from_worker(f"Deleted the {fmt.size(view.kept_bytes)} {view.request.label} kept.")
            self._done()

        self.dashboard.app.push_screen(
            ConfirmScreen("Delete kept bytes", body, "Delete bytes", "Keep them"),
            lambda yes: self._in_worker(discard, "discard") if yes else None,
        )

    def retry(self, view: DownloadView) -> None:
        if self.dashboard.refused_read_only("restart downloads"):
            return
        if view.fresh_needed and not view.state.active:
            self._offer_fresh(view)
            return
        if view.transport == "Xet" and view.state in (
            DownloadState.STALLED,
            DownloadState.SLOW_TAIL,
            DownloadState.FAILED,
        ):
            self._offer_plain_http(view)
            return
        if not view.state.active:
            self._retry(view.id)  # its process is gone; its bytes, if kept, are resumed
            return
        body = Text.assemble("Restart ", (view.request.label, "bold"), "?\n\n", _kept_on_restart(view))
        self.dashboard.app.push_screen(
            ConfirmScreen("Restart download", body, "Restart download", "Keep waiting"),
            lambda yes: self._retry(view.id) if yes else None,
        )

    def _offer_fresh(self, view: DownloadView) -> None:
        kept = f" The {fmt.size(view.kept_bytes)} kept are deleted." if view.kept_bytes else ""
        body = Text.assemble(
            "Download ", (view.request.label, "bold"), " afresh?\n\n",
            f"Its file could not be resumed: {view.error}\n\nA fresh download fetches it from 0.{kept}",
        )  # fmt: skip
        self.dashboard.app.push_screen(
            ConfirmScreen("Download afresh", body, "Download afresh", "Leave it"),
            lambda yes: self._retry(view.id, fresh=True) if yes else None,
        )

    def _cancel(self, download_id: int, keep: bool = False) -> None:
        def cancel() -> None:
            self.dashboard.supervisor.cancel(download_id, keep=keep)
            self._done()

        self._in_worker(cancel, "cancel")

    def _offer_plain_http(self, view: DownloadView) -> None:
        """A Xet download that is stalled, crawls or failed: restart it over plain HTTP, the usual cure, or over Xet."""
        lost = _kept_on_restart(view) if view.state.active else _kept(view)
        body = Text.assemble(
            "Restart ", (view.request.label, "bold"), f"? It is {view.state.value} over Xet.\n\n", lost, "\n\n",
            "Over plain HTTP (HF_HUB_DISABLE_XET=1), files come from the resolve URL's download server instead "
            "of hf_xet's CAS and xorb storage: the fix for a stuck Xet transfer. Either way, a file with bytes on "
            "disk resumes from them over plain HTTP with a Range request.",
        )  # fmt: skip
        choices = (
            Choice("plain", "Over plain HTTP", "h,y", "error"),
            Choice("xet", "Over Xet", "x"),
            Choice(None, "Keep waiting" if view.state.active else "Leave it", "n"),
        )
        self.dashboard.app.push_screen(
            ChoiceScreen("Restart download", body, choices),
            lambda transport: self._retry(view.id, transport) if transport else None,
        )

    def _retry(self, download_id: int, transport: str | None = None, fresh: bool = False) -> None:
        def retry() -> None:
            self.dashboard.supervisor.retry(
                download_id, disable_xet=None if transport is None else transport == "plain", fresh=fresh
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
            why = (
                f"hftop kept its bytes when its download of the file {'was ' if row.kept.why == 'cancelled' else ''}"
                f"{row.kept.why} (R resumes it from them)"
                if row.kept is not None
                else "No process has it open and its lock is free: its download died, and huggingface_hub never "
                "resumes it (R resumes it from its bytes)"
            )
            body = Text.assemble(
                "Delete the partial file of ", (f"{row.label} {name}", "bold"), "?\n\n",
                f"{why}. Deleting frees {size}.\n\n{row.key}",
            )  # fmt: skip
            title = "Delete kept partial file" if row.kept is not None else "Delete orphaned partial file"
            screen = ConfirmScreen(title, body, "Delete", "Keep it")
        else:
            doing = (
                f"It waits for process {row.waiting_for}, which downloads {row.label} {name}. Stopping it ends "
                "that program; the other download goes on."
                if row.waiting_for is not None
                else f"It is downloading {row.label} {name} ({size} so far). The program itself ends; its partial "
                "file stays behind as an orphan (unless the program deletes it as it stops): R resumes it, d deletes "
                "it. R on the download instead keeps its bytes for sure and resumes it at once."
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
        if row.state is DownloadState.FAILED and row.kept is None:
            self._fetch_again(row)
            return
        have, size = row.progress.real_bytes, row.progress.expected_size
        if size is not None and have <= size:
            resumes = f"resumes at {fmt.size(have)} of {fmt.size(size)}: {fmt.size(size - have)} to fetch"
        else:
            resumes = f"resumes at {fmt.size(have)}"
        first = (
            f"Process {row.owner_pid} ({row.owner_command}) is stopped first (SIGTERM), after hftop keeps a hard "
            "link to its partial file, so its bytes stay whatever it deletes as it ends. Then hftop "
            if row.owner_pid is not None
            else "hftop kept these bytes when its download of the file ended. hftop takes the file's lock, as "
            "huggingface_hub does, and "
            if row.kept is not None
            else "Its program is gone. hftop takes the file's lock, as huggingface_hub does, and "
        )
        body = Text.assemble(
            "Resume ", (f"{row.label} {row.file_name or 'blob ' + row.etag[:12]}", "bold"), " with hftop?\n\n",
            first, (resumes, "bold"), f" from {d.settings.endpoint} with a Range request, checks the whole file "
            "against its hash, and places it in the cache as huggingface_hub would",
            "." if row.kept is not None else ": when the program runs again, it finds the file cached.",
            " If the file cannot be resumed, hftop says why and offers a fresh download.",
        )  # fmt: skip
        d.app.push_screen(
            ConfirmScreen("Resume a download", body, "Resume it", "Leave it"),
            lambda yes: self._in_worker(partial(self._take_over, row), "take over") if yes else None,
        )

    def _fetch_again(self, row: ExternalDownload) -> None:
        """Another program's download failed and its file went with it: hftop downloads the file whole."""
        size = row.progress.expected_size
        whole = f" ({fmt.size(size)})" if size else ""
        full = any(e.startswith("last seen disk full") for e in row.progress.evidence)
        warning = (
            (
                "\n\nIt was last seen with the disk too full for the rest: free space first (c), or it fails again.",
                "yellow",
            )
            if full
            else ""
        )
        body = Text.assemble(
            "Fetch ", (f"{row.label} {row.file_name}", "bold"), " again with hftop?\n\n",
            f"Its program's download ended and huggingface_hub deleted its partial file, so nothing is left to resume: "
            f"hftop downloads the whole file{whole} from {self.dashboard.settings.endpoint}, checks it against its "
            "hash and places it in the cache as huggingface_hub would.",
            warning,
        )  # fmt: skip
        self.dashboard.app.push_screen(
            ConfirmScreen("Fetch a failed download again", body, "Fetch it", "Leave it"),
            lambda yes: self._in_worker(partial(self._take_over, row), "fetch again") if yes else None,
        )

    def _take_over(self, row: ExternalDownload) -> None:
        if row.file_name is None:
            self._notify_from_worker(
                f"{row.label}: which file blob {row.etag[:12]}… is, is not known yet (the endpoint has not answered); "
                "try again in a moment.",
                severity="warning",
            )
            return
        request = DownloadRequest(
            row.repo_id,
            row.repo_type,
            revision=row.commit or "main",
            patterns=(row.file_name,),
            disable_xet=_stuck_on_xet(row),
        )
        how = ""
        try:
            plan = self.plan(request)  # before stopping anything: a plan that fails leaves the program running
            if row.owner_pid is not None:
                try:
                    keep_link(Path(row.key))
                    how = f"Kept a hard link to its partial file and stopped process {row.owner_pid} with SIGTERM; "
                except OSError as error:
                    how = (
                        f"Could not keep a hard link ({error.strerror or error}); stopped process {row.owner_pid} with "
                        "SIGTERM, which runs no clean-up in a Python program; "
                    )
                stop_process(row.owner_pid, row.owner_command)
            self.dashboard.supervisor.start(plan)
            does = "fetches" if row.state is DownloadState.FAILED and row.kept is None else "resumes"
            self._notify_from_worker(f"{how}hftop {does} {row.label} {row.file_name}.", timeout=6)
        except (ActionRefused, RequestError) as error:
            self._notify_from_worker(f"{row.label}: {error}", severity="warning")
        self._done()


def _stuck_on_xet(row: ExternalDownload) -> bool:
    """Its program fetches it over Xet and it is stuck: hftop fetches it over plain HTTP instead."""
    return row.transport is not None and row.transport[0] == "Xet" and row.state is DownloadState.STALLED


def _kept_on_restart(view: DownloadView) -> Text:
    if view.partial_bytes and view.current_file:
        unwritten = view.partial_bytes - view.on_disk
        again = f" The {fmt.size(unwritten)} that arrived but are not written yet come again." if unwritten > 0 else ""
        return Text.assemble(
            "The ",
            (fmt.size(view.on_disk), "bold"),
            f" of {view.current_file} on disk are kept: the new attempt resumes from them with a Range request.{again}",
        )
    return Text("Nothing downloaded so far is lost: no file is half done.")


def _kept(view: DownloadView) -> Text:
    if view.kept_bytes:
        return Text.assemble("Its process is gone; ", (fmt.size(view.kept_bytes), "bold"), " are kept to resume from.")
    return Text("Its process is gone; nothing more is lost.")
