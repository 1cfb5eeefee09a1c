"""The hftop App: layout, bindings and the routing of worker results to panes."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from tui.cleanup_actions import CleanupActions
from tui.core import formatting as fmt
from tui.core.cache_query import CacheSort
from tui.core.mirrors import Mirror, mirror_list, token_allowed
from tui.core.throughput import ALL, CounterReading, ThroughputTracker, next_interface
from tui.download_actions import DownloadActions
from tui.downloads.others import OtherDownloads
from tui.downloads.supervisor import DownloadSupervisor
from tui.messages import CacheScanned, DiskSampled, DownloadsSampled, NetworkSampled, PartialsSampled
from tui.probes.cache_scan import cache_fingerprint, scan_cache
from tui.probes.disk import DiskSpace, disk_space
from tui.probes.hub import host_addresses
from tui.probes.network import read_counters
from tui.probes.partials import process_remotes
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen, binding_rows
from tui.screens.mirrors import MirrorScreen
from tui.screens.warnings import WarningsScreen
from tui.settings import Settings, save_endpoint
from tui.widgets.cache_pane import CachePane
from tui.widgets.downloads_pane import DownloadsPane
from tui.widgets.network_pane import NetworkPane
from tui.widgets.status_line import StatusLine


@dataclass(frozen=True)
class Sources:
    """Where the app reads time, network counters and free space. Snapshot tests pass fixed ones."""

    clock: Callable[[], float] = time.time
    counters: Callable[[], CounterReading] = read_counters
    disk: Callable[[Path], DiskSpace | None] = disk_space


class _UnwaitedExecutor(ThreadPoolExecutor):
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


CACHE_CHECK_INTERVAL = 5.0
"""Seconds between two looks for changes in the cache, unless a download started or ended."""


@dataclass
class _CacheWatch:
    fingerprint: tuple | None = None
    rescan_requested: bool = True
    check_requested: bool = True
    """A download started or ended: look for changes at the next tick instead of waiting."""
    checked_at: float = float("-inf")
    downloads_seen: dict[str, frozenset] = field(default_factory=dict)
    worker: Worker | None = None
    scans: int = 0


class HfTopApp(DownloadActions, CleanupActions, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "hftop"
    AUTO_FOCUS = None  # focus is set by on_mount and the cache pane, never by a race with them

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("a", "add_download", "Download"),
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("shift+tab", "focus_previous", "Previous pane", show=False),
        Binding("r", "rescan", "Rescan"),
        Binding("c", "show_cache", "Cache", show=False),
        Binding("m", "mirrors", "Mirror"),
        Binding("i", "next_interface", "Interface"),
        Binding("w", "warnings", "Warnings", show=False),
    ]

    def __init__(self, settings: Settings, sources: Sources | None = None, command_line: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.command_line = command_line
        self.sources = sources or Sources()
        self._cache = _CacheWatch()
        self._net = ThroughputTracker(history_seconds=max(300.0, 150 * settings.refresh))
        self._net_lock = threading.Lock()  # the tracker is fed by a worker and read on key presses
        self._net_worker: Worker | None = None
        self._interface = ALL
        self._last_scan = None
        self.mirrors = mirror_list(settings.mirrors, settings.endpoint)
        self.send_token = token_allowed(settings.endpoint, self.mirrors)
        """A token goes to huggingface.co, or to a mirror the user marked trusted; never elsewhere."""
        self.downloads = DownloadSupervisor(
            settings.cache_dir, settings.endpoint, stall_after=settings.stall_after, send_token=self.send_token
        )
        self._downloads_worker: Worker | None = None
        self._others = OtherDownloads(settings.cache_dir, settings.stall_after, clock=self.sources.clock)
        """Used by one _watch_partials worker at a time (ticks never stack)."""
        self._partials_worker: Worker | None = None

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
        self.downloads_pane = DownloadsPane(stall_after=self.settings.stall_after, id="downloads")
        yield self.status_line
        with Horizontal(id="upper"):
            yield self.downloads_pane
            yield self.network_pane
        yield self.cache_pane
        yield Footer()

    def on_mount(self) -> None:
        if self.command_line:
            # Workers run on the loop's default executor; at quit asyncio would wait for a scan
            # still in flight (seconds on a large cache). It only reads, so let it be dropped.
            loop = asyncio.get_running_loop()
            loop.set_default_executor(_UnwaitedExecutor(thread_name_prefix="hftop-worker"))
            # SIGTERM quits like `q`. After SIGHUP the terminal is gone and Textual's shutdown can
            # block forever writing to it, so leave at once; the demo's children notice by themselves.
            loop.add_signal_handler(signal.SIGTERM, self.exit)
            loop.add_signal_handler(signal.SIGHUP, os._exit, 128 + signal.SIGHUP)
        self.cache_pane.query_one("#cache-table").focus()
        if self.settings.start_downloads:
            self._start_requested(self.settings.start_downloads)
        self._tick()
        self.set_interval(self.settings.refresh, self._tick)

    def on_unmount(self) -> None:
        # Downloads hftop started stop with it: SIGTERM lets each delete its partial file.
        self.downloads.stop_all()
        self._others.close()

    def on_resize(self, event) -> None:
        self.screen.set_class(event.size.width < 100, "-narrow")

    # --- the refresh loop ------------------------------------------------------------------
    def _tick(self) -> None:
        # A worker still busy from the last tick is left alone: ticks are skipped, never stacked.
        if self._net_worker is None or self._net_worker.is_finished:
            self._net_worker = self._sample_network()
        if self._downloads_worker is None or self._downloads_worker.is_finished:
            self._downloads_worker = self._sample_downloads()
        if self._partials_worker is None or self._partials_worker.is_finished:
            self._partials_worker = self._watch_partials()
        if self._cache.worker is None or self._cache.worker.is_finished:
            watch = self._cache
            force = watch.rescan_requested
            # The fingerprint stats every repo folder: worth it every few seconds, or when a download
            # started or ended, not every tick.
            check = force or watch.check_requested or time.monotonic() - watch.checked_at >= CACHE_CHECK_INTERVAL
            watch.rescan_requested = watch.check_requested = False
            if check:
                watch.checked_at = time.monotonic()
            watch.worker = self._watch_cache(force, check)

    @work(thread=True, group="network", exit_on_error=False)
    def _sample_network(self) -> None:
        reading = self.sources.counters()
        with self._net_lock:
            self._net.add(reading)
            view = self._net.view(self._interface)
        self.post_message(NetworkSampled(view))

    @work(thread=True, group="downloads", exit_on_error=False)
    def _sample_downloads(self) -> None:
        views = tuple(
            replace(v, remotes=process_remotes(v.pid), endpoint_addresses=host_addresses(v.endpoint))
            if v.pid and v.state.active
            else v
            for v in self.downloads.views()
        )
        self._note_downloads("own", ((v.id, v.state, v.files_done) for v in views))
        self.post_message(DownloadsSampled(views))

    @work(thread=True, group="partials", exit_on_error=False)
    def _watch_partials(self) -> None:
        own = {v.pid for v in self.downloads.views() if v.pid}
        found = self._others.sample(exclude_pids=own)
        self._note_downloads("other", (d.key for d in found))
        self.post_message(PartialsSampled(found))

    def _note_downloads(self, kind: str, items) -> None:
        """A change in the downloads (one started, ended, finished a file) asks for a look at the cache."""
        items = frozenset(items)
        if self._cache.downloads_seen.get(kind) != items:
            self._cache.downloads_seen[kind] = items
            self._cache.check_requested = True

    @work(thread=True, group="cache", exit_on_error=False)
    def _watch_cache(self, force: bool, check: bool = True) -> None:
        cache_dir = self.settings.cache_dir
        self.post_message(DiskSampled(self.sources.disk(cache_dir)))
        if not check:
            return
        # The fingerprint is taken before the scan, so a change during the scan triggers another one.
        fingerprint = cache_fingerprint(cache_dir)
        if not force and fingerprint == self._cache.fingerprint:
            return
        scan = scan_cache(cache_dir)
        self._cache.fingerprint = fingerprint
        self._cache.scans += 1
        self.post_message(CacheScanned(scan))

    # --- routing of facts to panes ---------------------------------------------------------
    @on(CacheScanned)
    def _show_scan(self, message: CacheScanned) -> None:
        self._last_scan = message.scan
        self.cache_pane.scan = message.scan

    @on(NetworkSampled)
    def _show_network(self, message: NetworkSampled) -> None:
        self.network_pane.view = message.view

    @on(DiskSampled)
    def _show_disk(self, message: DiskSampled) -> None:
        self.status_line.space = message.space

    @on(DownloadsSampled)
    def _show_downloads(self, message: DownloadsSampled) -> None:
        self.downloads_pane.views = message.views

    @on(PartialsSampled)
    def _show_partials(self, message: PartialsSampled) -> None:
        self.downloads_pane.external = message.downloads

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            what = {
                "cache": "Reading the cache",
                "network": "Reading network counters",
                "downloads": "Managing downloads",
                "partials": "Looking for other programs' downloads",
            }.get(event.worker.group, event.worker.group)
            error = event.worker.error
            self.notify(f"{what} failed: {error}", severity="error", timeout=8)

    # --- actions ------------------------------------------------------------------------------
    def refused_read_only(self, what: str) -> bool:
        """True (and says so) when hftop runs read-only: every action that changes something is off."""
        if self.settings.read_only:
            self.notify(f"hftop runs read-only: it does not {what}. Start it without --read-only to.", timeout=6)
        return self.settings.read_only

    def action_mirrors(self) -> None:
        def chosen(mirror: Mirror | None) -> None:
            if mirror is not None and mirror.url != self.settings.endpoint:
                self.use_endpoint(mirror)

        self.push_screen(MirrorScreen(self.mirrors, self.settings.endpoint), chosen)

    def use_endpoint(self, mirror: Mirror) -> None:
        """New downloads and retries go to `mirror` from now on; it is saved to the config file."""
        self.settings = replace(self.settings, endpoint=mirror.url)
        self.send_token = token_allowed(mirror.url, self.mirrors)
        self.downloads.use_endpoint(mirror.url, self.send_token)
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

    def request_rescan(self) -> None:
        """Scan the cache again at the next tick (after hftop itself changed it)."""
        self._cache.rescan_requested = True

    def action_rescan(self) -> None:
        self._cache.rescan_requested = True
        self.notify("Rescanning the cache…", timeout=2)
        self._tick()

    def action_show_cache(self) -> None:
        """To free space: the cache pane, largest repos first."""
        self.cache_pane.sort = CacheSort()
        self.cache_pane.query_one("#cache-table").focus()

    def action_next_interface(self) -> None:
        with self._net_lock:
            self._interface = next_interface(self._interface, self._net.interfaces())
            view = self._net.view(self._interface)
        self.network_pane.view = view

    def action_warnings(self) -> None:
        info = self._last_scan.info if self._last_scan else None
        self.push_screen(WarningsScreen([str(w) for w in info.warnings] if info else []))

    def action_help(self) -> None:
        sections = [
            ("Everywhere", binding_rows(self.BINDINGS)),
            ("Downloads pane", DownloadsPane.HELP),
            ("Cache pane", CachePane.HELP),
            ("Network pane", NetworkPane.HELP),
        ]
        self.push_screen(HelpScreen(sections))

    async def action_quit(self) -> None:
        running = self.downloads.active_count
        if running and not self.settings.demo:
            body = (
                f"{fmt.count(running, 'download')} started by hftop {'is' if running == 1 else 'are'} running.\n\n"
                "Quitting cancels them and deletes their partial files (huggingface_hub cannot resume them)."
            )
            self.push_screen(
                ConfirmScreen("Quit hftop", body, "Quit and cancel", "Stay"),
                lambda yes: self.exit() if yes else None,
            )
            return
        self.exit()


def make_app(settings: Settings, sources: Sources | None = None, command_line: bool = False) -> HfTopApp:
    """The one way to build the app, shared by the command line, the tests and the screenshot script."""
    return HfTopApp(settings, sources, command_line)
