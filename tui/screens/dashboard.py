"""The dashboard: the panes, the refresh timer, and the routing of the monitor's snapshots to them.

A timer starts the snapshot worker (skipped while the last one still runs), which asks the monitor
for a snapshot and posts it; the handler hands it to each pane. The cache worker looks at the cache
when the snapshot says a download started or ended, every few seconds, or when asked to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from tui.core.cache_query import CacheSort
from tui.core.mirrors import Mirror, mirror_list, token_allowed
from tui.core.throughput import CounterReading
from tui.downloads.supervisor import DownloadSupervisor
from tui.messages import CacheScanned, FoldersRead, SnapshotTaken
from tui.monitor.monitor import Monitor, Snapshot, Sources
from tui.probes.cache_scan import CacheScan
from tui.screens.download_details import DownloadDetailsScreen
from tui.screens.help import HelpScreen, binding_rows
from tui.screens.mirrors import MirrorScreen
from tui.screens.warnings import CacheWarning, WarningsScreen, corrupted_folder
from tui.settings import Settings, save_endpoint
from tui.widgets.cache.flows import CacheFlows
from tui.widgets.cache.pane import CachePane
from tui.widgets.downloads.flows import DownloadFlows
from tui.widgets.downloads.pane import DownloadsPane
from tui.widgets.folders.flows import FolderFlows
from tui.widgets.folders.pane import FoldersPane
from tui.widgets.footer import FittingFooter
from tui.widgets.network_pane import NetworkPane
from tui.widgets.status_line import StatusLine

WORKER_NAMES = {
    "snapshot": "Looking at the downloads, the network and the disk",
    "cache": "Reading the cache",
    "downloads": "A download action",
    "cleanup": "Cleaning the cache",
    "folders": "Cleaning the xet folder or the datasets cache",
    "marks": "Working out what the marks free",
}
"""What each worker group does, in the words of the message that says it failed."""

MIN_SIZE = (80, 24)
"""Under this the dashboard says the terminal is too small instead of showing panes cut to pieces."""

NETWORK_HEIGHT = 9
"""The network pane's figures and its two sparklines, with its border."""

CACHE_SHARE = 0.4
"""Of the height under the status line, what the cache pane keeps when the downloads want more."""


def _loopback_counted(counters: Callable[[], CounterReading]) -> Callable[[], CounterReading]:
    """`counters`, with no interface marked loopback: the total of all interfaces includes `lo`."""

    def read() -> CounterReading:
        return replace(counters(), loopback=frozenset())

    return read


class DashboardCommands(Provider):
    """hftop's actions in the command palette (Ctrl+P), each named with its key, beside Textual's own.
    A provider of the dashboard's, not system commands: they show only over the dashboard."""

    def _commands(self) -> list[SystemCommand]:
        screen = self.screen
        return screen.palette_commands() if isinstance(screen, DashboardScreen) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.callback, help=command.help)


class DashboardScreen(Screen[None]):
    """Status line, downloads, network and cache panes, fed by one monitor."""

    COMMANDS = {DashboardCommands}

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("a", "add_download", "Download"),
        Binding("r", "rescan", "Rescan"),
        Binding("c", "show_cache", "Cache"),
        # Off the footer (the cache pane's crumb says it): the footer keeps room for the pane's own keys.
        Binding("f", "switch_folders", "Xet & datasets", show=False),
        Binding("m", "mirrors", "Mirror"),
        Binding("i", "next_interface", "Interface"),
        Binding("w", "warnings", "Warnings"),
    ]

    def __init__(self, settings: Settings, sources: Sources) -> None:
        super().__init__()
        self.settings = settings
        self._focus_before: Widget | None = None
        """What had the focus when the too-small notice covered the panes."""
        if settings.demo:
            # The demo's hub and downloads are all on loopback, which the network pane leaves out of
            # "all" elsewhere: in the demo it counts (the pane says so).
            sources = replace(sources, counters=_loopback_counted(sources.counters))
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
            home_endpoint=settings.endpoint if settings.demo else None,
            endpoint=settings.endpoint,
        )
        self.downloads_flows = DownloadFlows(self)
        self.cache_flows = CacheFlows(self)
        self.folder_flows = FolderFlows(self)
        self.snapshot = Snapshot(at=time.time(), stall_after=settings.stall_after)
        """The latest snapshot (an empty one until the first arrives)."""
        self.last_scan: CacheScan | None = None
        self._snapshot_worker: Worker | None = None
        self._cache_worker: Worker | None = None
        self._rescan_requested = True
        self._cache_look_due = True
        """Set on the UI thread from a snapshot, read there by the timer."""
        self._folders_requested = False

    def compose(self) -> ComposeResult:
        # Kept as attributes: app.query_one() searches the active screen, which may be a dialog.
        self.status_line = StatusLine(
            self.settings.cache_dir,
            self.settings.endpoint,
            demo=self.settings.demo,
            read_only=self.settings.read_only,
            id="status",
        )
        self.network_pane = NetworkPane(loopback_counted=self.settings.demo, id="network")
        self.cache_pane = CachePane(clock=self.sources.clock, id="cache")
        self.downloads_pane = DownloadsPane(id="downloads")
        self.folders_pane = FoldersPane(clock=self.sources.clock, id="folders")
        self.folders_pane.display = False
        yield self.status_line
        with Horizontal(id="upper"):
            yield self.downloads_pane
            yield self.network_pane
        yield self.cache_pane
        yield self.folders_pane
        yield FittingFooter()
        yield Static(id="too-small")

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
        width, height = event.size
        self.set_class(width < 100, "-narrow")
        # The network pane gives way first, so the downloads keep every column.
        self.network_pane.styles.width = 46 if width >= 140 else 40 if width >= 120 else 36 if width >= 100 else 18
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        if too_small != self.has_class("-too-small"):
            self._cover_panes(too_small)
        self.set_class(too_small, "-too-small")
        notice = self.query_one("#too-small", Static)
        notice.update(
            f"terminal too small: {width}×{height}, hftop needs {MIN_SIZE[0]}×{MIN_SIZE[1]} or more.\n\n"
            "Make the window larger (or the font smaller); q quits."
            if too_small
            else ""
        )
        self.share_height()

    def _cover_panes(self, covered: bool) -> None:
        """Under the too-small notice no key reaches the panes: none acts on a row the user cannot see.
        The focus comes back where it was once the terminal is large enough."""
        if covered:
            self._focus_before = self.focused
        for pane in (self.query_one("#upper"), self.cache_pane, self.folders_pane):
            pane.disabled = covered
        if not covered and self._focus_before is not None and self._focus_before.is_attached:
            self._focus_before.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not self.has_class("-too-small") or action == "help"

    def share_height(self) -> None:
        """Give each pane the rows it needs: the downloads pane grows with its rows, the cache pane
        keeps what it needs of the rest, and at least `CACHE_SHARE` of the height when both want more."""
        if not self.is_mounted:
            return
        room = self.size.height - 2  # the status line and the footer
        upper_need = max(NETWORK_HEIGHT, self.downloads_pane.wanted_height())
        lower = self.folders_pane if self.folders_pane.display else self.cache_pane
        cache_need = lower.wanted_height()
        cache_keeps = min(cache_need, max(10, int(room * CACHE_SHARE)))
        upper = max(min(upper_need, room - cache_keeps), min(NETWORK_HEIGHT, room // 2))
        upper_box = self.query_one("#upper")
        if upper_box.styles.height is None or upper_box.styles.height.value != upper:
            upper_box.styles.height = upper

    # --- the refresh loop ------------------------------------------------------------------
    def _tick(self) -> None:
        # A worker still busy from the last tick is left alone: ticks are skipped, never stacked.
        self.snapshot_now()
        if self._cache_worker is None or self._cache_worker.is_finished:
            if self._rescan_requested or self._cache_look_due or self._folders_requested:
                folders_now = self._rescan_requested or self._folders_requested
                self._cache_worker = self._look_at_cache(self._rescan_requested, folders_now)
                self._rescan_requested = self._cache_look_due = self._folders_requested = False

    def snapshot_now(self) -> None:
        """Take a snapshot now, unless one is being taken."""
        if self._snapshot_worker is None or self._snapshot_worker.is_finished:
            self._snapshot_worker = self._take_snapshot()

    @work(thread=True, group="snapshot", exit_on_error=False)
    def _take_snapshot(self) -> None:
        # Downloads move on the real clock, whatever clock the cache's ages are shown against.
        self.post_message(SnapshotTaken(self.monitor.tick(time.time())))

    @work(thread=True, group="cache", exit_on_error=False)
    def _look_at_cache(self, force: bool, folders_now: bool) -> None:
        scan = self.monitor.look_at_cache(force, on_progress=lambda partial: self.post_message(CacheScanned(partial)))
        if scan is not None:
            self.post_message(CacheScanned(scan))
        folders = self.monitor.look_at_folders(time.time(), folders_now)
        if folders is not None:
            self.post_message(FoldersRead(folders))

    def request_rescan(self) -> None:
        """Scan the cache again at the next tick (after hftop itself changed it)."""
        self._rescan_requested = True

    def request_folders(self) -> None:
        """Read the xet folder and the datasets cache again now (after hftop changed them, or to show them)."""
        self._folders_requested = True
        self._tick()

    # --- routing of facts to panes ---------------------------------------------------------
    @on(SnapshotTaken)
    def _show_snapshot(self, message: SnapshotTaken) -> None:
        snapshot = self.snapshot = message.snapshot
        self.status_line.space = snapshot.disk
        self.status_line.states = tuple(row.state for row in snapshot.rows)
        self.network_pane.view = snapshot.network
        self.downloads_pane.snapshot = snapshot
        self.share_height()
        if self.cache_pane.partials != snapshot.partials_in_cache:
            self.cache_pane.partials = snapshot.partials_in_cache
        for screen in self.app.screen_stack:
            # Not to a details screen on its way out (closing, or the app quitting): its widgets are gone.
            if isinstance(screen, DownloadDetailsScreen) and screen.is_attached and screen.query("#details-body"):
                screen.snapshot = snapshot
        if snapshot.look_at_cache:
            self._cache_look_due = True

    @on(CacheScanned)
    def _show_scan(self, message: CacheScanned) -> None:
        if not message.scan.complete and self.last_scan is not None and self.last_scan.complete:
            return  # a whole view stays until the next whole one: only the first scan streams in
        self.last_scan = message.scan
        self.cache_pane.scan = message.scan
        self.share_height()

    @on(FoldersRead)
    def _show_folders(self, message: FoldersRead) -> None:
        self.folders_pane.folders = message.folders
        keys = {p.key for p in message.folders.parts}
        if not self.folders_pane.marks <= keys:
            self.folders_pane.marks = self.folders_pane.marks & keys  # a marked cache that is gone is unmarked

    @on(CachePane.RowsShown)
    @on(FoldersPane.RowsShown)
    def _cache_rows_shown(self) -> None:
        self.share_height()

    @on(FoldersPane.CleanupRequested)
    def _clean_up_folders(self, message: FoldersPane.CleanupRequested) -> None:
        self.folder_flows.clean_up(message.marks, message.marked_only)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            group = event.worker.group
            what = WORKER_NAMES.get(group, group)
            self.notify(f"{what} failed: {event.worker.error}", severity="error", timeout=8)

    # --- the panes' requests ---------------------------------------------------------------
    @on(DownloadsPane.CancelRequested)
    def _cancel(self, message: DownloadsPane.CancelRequested) -> None:
        self.downloads_flows.cancel(message.view)

    @on(DownloadsPane.DiscardKeptRequested)
    def _discard_kept(self, message: DownloadsPane.DiscardKeptRequested) -> None:
        self.downloads_flows.discard_kept(message.view)

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
        self._show_lower(folders=False)
        self.cache_pane.sort = CacheSort()
        self.cache_pane.query_one("#cache-table").focus()

    def action_switch_folders(self) -> None:
        """The hub cache's place goes to the xet folder and the datasets cache, and back."""
        self._show_lower(folders=not self.folders_pane.display)

    def _show_lower(self, folders: bool) -> None:
        if self.folders_pane.display == folders:
            return
        self.folders_pane.display = folders
        self.cache_pane.display = not folders
        (self.folders_pane if folders else self.cache_pane).query_one(DataTable).focus()
        if folders:
            self.request_folders()  # as they are now, not as at the last half-minute look
        self.share_height()

    def action_next_interface(self) -> None:
        self.network_pane.view = self.monitor.next_interface()

    def action_warnings(self) -> None:
        info = self.last_scan.info if self.last_scan else None
        cache_dir = self.settings.cache_dir
        warnings = [CacheWarning(str(w), corrupted_folder(str(w), cache_dir)) for w in (info.warnings if info else [])]

        def chosen(folder: Path | None) -> None:
            if folder is not None:
                self.cache_flows.delete_corrupted(folder)

        self.app.push_screen(WarningsScreen(warnings), chosen)

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

    def palette_commands(self) -> list[SystemCommand]:
        """Every hftop action, for the command palette (Ctrl+P), each with the key that does the same."""
        downloads, cache, folders = self.downloads_pane, self.cache_pane, self.folders_pane
        if self.has_class("-too-small"):  # the panes are covered: nothing acts on what cannot be seen
            return [SystemCommand("Show every key (?)", "What each key does, pane by pane", self.show_help)]
        commands: list[tuple[str, str, str, Callable[[], object]]] = [
            ("?", "Show every key", "What each key does, pane by pane", self.show_help),
            ("a", "Add a download", "Plan a repo's download, see what it fetches, start it", self.action_add_download),
            ("r", "Rescan the cache", "Read the whole cache again now", self.action_rescan),
            ("c", "Cache by size", "The cache pane, largest repos first, to free space", self.action_show_cache),
            ("m", "Choose a mirror", "The endpoints new downloads can use, each probed", self.action_mirrors),
            ("i", "Next network interface", "All interfaces, then each one alone", self.action_next_interface),
            ("w", "Show cache warnings", "Corrupted repo folders; d there deletes one after a review",
             self.action_warnings),
            ("x", "Cancel the highlighted download", "Asks first, and whether to keep its bytes", downloads.action_cancel),
            ("R", "Retry the highlighted download", "Resumes it from the bytes on disk", downloads.action_retry),
            ("⏎", "Details of the highlighted download", "The numbers behind its verdict", downloads.show_details),
            ("/", "Filter the cache", "size>1GB accessed>30d type=model refs=main, or words of a repo id",
             cache.action_filter),
            ("s", "Sort the cache by size", "Again reverses", partial(cache.action_sort, "size")),
            ("n", "Sort the cache by name", "Again reverses", partial(cache.action_sort, "name")),
            ("u", "Sort the cache by last used", "Again reverses", partial(cache.action_sort, "accessed")),
            ("t", "Sort the cache by last modified", "Again reverses", partial(cache.action_sort, "modified")),
            ("⏎", "Open the highlighted cache row", "A repo's revisions, a revision's files", cache.open_highlighted),
            ("Esc", "Back up one level in the cache", "Or clear the filter at the top", cache.action_back),
            ("Space", "Mark the highlighted cache row", "Again unmarks; the cursor moves down", cache.action_mark),
            ("d", "Delete the marked items", "A review of what each frees comes first", cache.action_delete),
            ("P", "Prune the cache", "Detached revisions, dead partial files, unheld locks, unlinked shared blobs; reviewed first",
             cache.action_prune),
            ("v", "Verify the highlighted repo or revision", "Each file against its blob's hash, offline",
             cache.action_verify),
            ("f", "Show the xet folder and the datasets cache", "In the hub cache's place; again goes back",
             self.action_switch_folders),
            ("P", "Clean up the xet folder and the datasets cache",
             "Old logs of gone processes, unused staging and chunk caches, datasets downloads, unheld locks, "
             "marked Arrow caches; reviewed first", folders.action_clean_up),
        ]  # fmt: skip
        return [SystemCommand(f"{title} ({key})", help, callback) for key, title, help, callback in commands]

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every key, by where it works, gathered from the bindings themselves."""
        return [
            ("Everywhere", binding_rows([*self.BINDINGS, *self.app.BINDINGS])),
            ("Downloads pane", DownloadsPane.KEYS),
            ("Cache pane", CachePane.KEYS),
            ("Xet & datasets pane", FoldersPane.KEYS),
            ("Network pane", NetworkPane.KEYS),
        ]

    def show_help(self) -> None:
        self.app.push_screen(HelpScreen(self.help_sections()))
