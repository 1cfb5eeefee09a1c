"""The dashboard: the panes, the refresh timer, and the routing of the monitor's snapshots to them.

A timer starts the snapshot worker (skipped while the last one still runs), which asks the monitor
for a snapshot and posts it; the handler hands it to each pane. The cache worker looks at the cache
when the snapshot says a download started or ended, every few seconds, or when asked to.
"""

from __future__ import annotations

import time
from dataclasses import replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from tui.core.cache_query import CacheSort
from tui.core.mirrors import Mirror, mirror_list, token_allowed
from tui.downloads.supervisor import DownloadSupervisor
from tui.messages import CacheScanned, SnapshotTaken
from tui.monitor.monitor import Monitor, Snapshot, Sources
from tui.probes.cache_scan import CacheScan
from tui.screens.download_details import DownloadDetailsScreen
from tui.screens.help import HelpScreen, binding_rows
from tui.screens.mirrors import MirrorScreen
from tui.screens.warnings import WarningsScreen
from tui.settings import Settings, save_endpoint
from tui.widgets.cache.flows import CacheFlows
from tui.widgets.cache.pane import CachePane
from tui.widgets.downloads.flows import DownloadFlows
from tui.widgets.downloads.pane import DownloadsPane
from tui.widgets.network_pane import NetworkPane
from tui.widgets.status_line import StatusLine

WORKER_NAMES = {
    "snapshot": "Looking at the downloads, the network and the disk",
    "cache": "Reading the cache",
    "downloads": "A download action",
    "cleanup": "Cleaning the cache",
    "marks": "Working out what the marks free",
}
"""What each worker group does, in the words of the message that says it failed."""


class DashboardScreen(Screen[None]):
    """Status line, downloads, network and cache panes, fed by one monitor."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("a", "add_download", "Download"),
        Binding("r", "rescan", "Rescan"),
        Binding("c", "show_cache", "Cache", show=False),
        Binding("m", "mirrors", "Mirror"),
        Binding("i", "next_interface", "Interface"),
        Binding("w", "warnings", "Warnings", show=False),
    ]

    def __init__(self, settings: Settings, sources: Sources) -> None:
        super().__init__()
        self.settings = settings
        self.sources = sources
        self.mirrors = mirror_list(settings.mirrors, settings.endpoint)
        self.send_token = token_allowed(settings.endpoint, self.mirrors)
        """A token goes to huggingface.co, or to a mirror the user marked trusted; never elsewhere."""
        self.supervisor = DownloadSupervisor(
            settings.cache_dir,
            settings.endpoint,
            stall_after=settings.stall_after,
            send_token=self.send_token,
        )
        self.monitor = Monitor(
            settings.cache_dir,
            settings.stall_after,
            supervisor=self.supervisor,
            sources=sources,
            history_seconds=max(300.0, 150 * settings.refresh),
        )
        self.downloads_flows = DownloadFlows(self)
        self.cache_flows = CacheFlows(self)
        self.snapshot = Snapshot(at=time.time(), stall_after=settings.stall_after)
        """The latest snapshot (an empty one until the first arrives)."""
        self.last_scan: CacheScan | None = None
        self._snapshot_worker: Worker | None = None
        self._cache_worker: Worker | None = None
        self._rescan_requested = True
        self._cache_look_due = True
        """Set on the UI thread from a snapshot, read there by the timer."""

    def compose(self) -> ComposeResult:
        # Kept as attributes: app.query_one() searches the active screen, which may be a dialog.
        self.status_line = StatusLine(
            self.settings.cache_dir,
            self.settings.endpoint,
            demo=self.settings.demo,
            read_only=self.settings.read_only,
            id="status",
        )
        self.network_pane = NetworkPane(id="network")
        self.cache_pane = CachePane(clock=self.sources.clock, id="cache")
        self.downloads_pane = DownloadsPane(id="downloads")
        yield self.status_line
        with Horizontal(id="upper"):
            yield self.downloads_pane
            yield self.network_pane
        yield self.cache_pane
        yield Footer()

    def on_mount(self) -> None:
        self.cache_pane.query_one("#cache-table").focus()
        if self.settings.start_downloads:
            self.downloads_flows.start_requested(self.settings.start_downloads)
        self._tick()
        self.set_interval(self.settings.refresh, self._tick)

    def on_unmount(self) -> None:
        # Downloads hftop started stop with it: SIGTERM lets each delete its partial file.
        self.supervisor.stop_all()
        self.monitor.close()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < 100, "-narrow")

    # --- the refresh loop ------------------------------------------------------------------
    def _tick(self) -> None:
        # A worker still busy from the last tick is left alone: ticks are skipped, never stacked.
        self.snapshot_now()
        if self._cache_worker is None or self._cache_worker.is_finished:
            if self._rescan_requested or self._cache_look_due:
                self._cache_worker = self._look_at_cache(self._rescan_requested)
                self._rescan_requested = self._cache_look_due = False

    def snapshot_now(self) -> None:
        """Take a snapshot now, unless one is being taken."""
        if self._snapshot_worker is None or self._snapshot_worker.is_finished:
            self._snapshot_worker = self._take_snapshot()

    @work(thread=True, group="snapshot", exit_on_error=False)
    def _take_snapshot(self) -> None:
        # Downloads move on the real clock, whatever clock the cache's ages are shown against.
        self.post_message(SnapshotTaken(self.monitor.tick(time.time())))

    @work(thread=True, group="cache", exit_on_error=False)
    def _look_at_cache(self, force: bool) -> None:
        scan = self.monitor.look_at_cache(force)
        if scan is not None:
            self.post_message(CacheScanned(scan))

    def request_rescan(self) -> None:
        """Scan the cache again at the next tick (after hftop itself changed it)."""
        self._rescan_requested = True

    # --- routing of facts to panes ---------------------------------------------------------
    @on(SnapshotTaken)
    def _show_snapshot(self, message: SnapshotTaken) -> None:
        snapshot = self.snapshot = message.snapshot
        self.status_line.space = snapshot.disk
        self.network_pane.view = snapshot.network
        self.downloads_pane.snapshot = snapshot
        if self.cache_pane.partials != snapshot.partials_in_cache:
            self.cache_pane.partials = snapshot.partials_in_cache
        for screen in self.app.screen_stack:
            if isinstance(screen, DownloadDetailsScreen):
                screen.snapshot = snapshot
        if snapshot.look_at_cache:
            self._cache_look_due = True

    @on(CacheScanned)
    def _show_scan(self, message: CacheScanned) -> None:
        self.last_scan = message.scan
        self.cache_pane.scan = message.scan

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            group = event.worker.group
            what = WORKER_NAMES.get(group, group)
            self.notify(f"{what} failed: {event.worker.error}", severity="error", timeout=8)

    # --- the panes' requests ---------------------------------------------------------------
    @on(DownloadsPane.CancelRequested)
    def _cancel(self, message: DownloadsPane.CancelRequested) -> None:
        self.downloads_flows.cancel(message.view)

    @on(DownloadsPane.RetryRequested)
    def _retry(self, message: DownloadsPane.RetryRequested) -> None:
        self.downloads_flows.retry(message.view)

    @on(DownloadsPane.DetailsRequested)
    def _details(self, message: DownloadsPane.DetailsRequested) -> None:
        self.downloads_flows.details(message.key)

    @on(DownloadsPane.StopOtherRequested)
    def _stop_other(self, message: DownloadsPane.StopOtherRequested) -> None:
        self.downloads_flows.stop_other(message.row)

    @on(DownloadsPane.TakeOverRequested)
    def _take_over(self, message: DownloadsPane.TakeOverRequested) -> None:
        self.downloads_flows.take_over(message.row)

    @on(CachePane.MarksChanged)
    def _marks_changed(self, message: CachePane.MarksChanged) -> None:
        self.cache_flows.marks_changed(message.marks)

    @on(CachePane.DeleteRequested)
    def _delete(self, message: CachePane.DeleteRequested) -> None:
        self.cache_flows.delete(message.marks)

    @on(CachePane.PruneRequested)
    def _prune(self) -> None:
        self.cache_flows.prune()

    @on(CachePane.VerifyRequested)
    def _verify(self, message: CachePane.VerifyRequested) -> None:
        self.cache_flows.verify(message)

    # --- actions ------------------------------------------------------------------------------
    def refused_read_only(self, what: str) -> bool:
        """True (and says so) when hftop runs read-only: every action that changes something is off."""
        if self.settings.read_only:
            self.notify(f"hftop runs read-only: it does not {what}. Start it without --read-only to.", timeout=6)
        return self.settings.read_only

    def action_add_download(self) -> None:
        self.downloads_flows.add()

    def action_rescan(self) -> None:
        self._rescan_requested = True
        self.notify("Rescanning the cache…", timeout=2)
        self._tick()

    def action_show_cache(self) -> None:
        """To free space: the cache pane, largest repos first."""
        self.cache_pane.sort = CacheSort()
        self.cache_pane.query_one("#cache-table").focus()

    def action_next_interface(self) -> None:
        self.network_pane.view = self.monitor.next_interface()

    def action_warnings(self) -> None:
        info = self.last_scan.info if self.last_scan else None
        self.app.push_screen(WarningsScreen([str(w) for w in info.warnings] if info else []))

    def action_mirrors(self) -> None:
        def chosen(mirror: Mirror | None) -> None:
            if mirror is not None and mirror.url != self.settings.endpoint:
                self.use_endpoint(mirror)

        self.app.push_screen(MirrorScreen(self.mirrors, self.settings.endpoint), chosen)

    def use_endpoint(self, mirror: Mirror) -> None:
        """New downloads and retries go to `mirror` from now on; it is saved to the config file."""
        self.settings = replace(self.settings, endpoint=mirror.url)
        self.send_token = token_allowed(mirror.url, self.mirrors)
        self.supervisor.use_endpoint(mirror.url, self.send_token)
        self.status_line.endpoint = mirror.url
        self.status_line.watch_space()
        saved = ""
        if self.settings.config_path is not None and not self.settings.demo:
            try:
                save_endpoint(self.settings.config_path, mirror.url)
                saved = f"; saved to {self.settings.config_path}"
            except OSError as e:
                saved = f"; not saved ({e.strerror or e})"
        token = "your token is sent to it" if self.send_token else "no token is sent to it"
        self.notify(f"New downloads and retries use {mirror.name} ({mirror.url}): {token}{saved}.", timeout=8)

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every key, by where it works, gathered from the bindings themselves."""
        return [
            ("Everywhere", binding_rows([*self.BINDINGS, *self.app.BINDINGS])),
            ("Downloads pane", DownloadsPane.KEYS),
            ("Cache pane", CachePane.KEYS),
            ("Network pane", NetworkPane.KEYS),
        ]

    def show_help(self) -> None:
        self.app.push_screen(HelpScreen(self.help_sections()))
