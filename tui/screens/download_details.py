"""Enter on a download: its verdict, the numbers behind it and its speed over time, kept live."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Sparkline, Static

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload
from tui.monitor.monitor import Snapshot, VerdictChange
from tui.widgets.downloads.verdict import explain


class DownloadDetailsScreen(ModalScreen[None]):
    """Follows one download by its row key through the snapshots the dashboard hands it; says so
    when the download is gone."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, init=False)
    """The monitor's latest snapshot; set by the dashboard."""

    def __init__(self, snapshot: Snapshot | None, key: str) -> None:
        super().__init__()
        self.key = key
        self.set_reactive(DownloadDetailsScreen.snapshot, snapshot)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details-body"):  # what does not fit scrolls (arrows, Page Up/Down, Home, End)
            yield Static(id="details-verdict")
            yield Static(id="details-figures")
            yield Static(Text("Speed, one bar a refresh (most recent on the right)", style="dim"))
            yield Sparkline([], id="details-speed", summary_function=max)
            yield Static(id="details-timeline")
        yield Static(Text("Esc closes · ↑ ↓ Page Up/Down scroll", style="dim"), id="details-footer")

    def on_mount(self) -> None:
        self.query_one("#details-body").focus()
        self.watch_snapshot()

    def watch_snapshot(self) -> None:
        if not self.is_mounted or not self.query("#details-body"):
            return  # not shown yet, or closing: its widgets are gone
        snapshot = self.snapshot
        row = None if snapshot is None else snapshot.row(self.key)
        body = self.query_one("#details-body")
        if snapshot is None or row is None:
            self.query_one("#details-verdict", Static).update(Text("This download is no longer listed.", style="dim"))
            return
        body.border_title = f"{row.request.label if isinstance(row, DownloadView) else row.label} · {row.state.value}"
        history = snapshot.history(self.key)
        self.query_one("#details-verdict", Static).update(explain(row, snapshot.stall_after, in_details=True))
        figures = self.query_one("#details-figures", Static)
        figures.update(_figures(row, snapshot.at))
        self.query_one("#details-speed", Sparkline).data = list(history.speeds) or [0.0]
        self.query_one("#details-timeline", Static).update(_timeline(history.verdicts))


def _figures(row: DownloadView | ExternalDownload, now: float) -> Table:
    """Name and value a line; a value too long for the line wraps under itself, not under the names."""
    rows: list[tuple[str, str]]
    if isinstance(row, DownloadView):
        rows = [
            (
                "files",
                f"{row.files_done} of {len(row.plan.files)} done"
                + (f"; {'now' if row.state.active else 'it ended in'} {row.current_file}" if row.current_file else ""),
            ),
            ("bytes", f"{fmt.size(row.done_bytes)} of {fmt.size(row.total_bytes)} to fetch"),
            ("speed", f"{fmt.rate(row.rate)} over the last 10 s"),
            ("ETA", fmt.duration(row.eta)),
            *(
                [("running for", fmt.duration(row.age)), ("last new byte", f"{fmt.duration(row.quiet_for)} ago")]
                if row.state.active
                else [
                    ("ran for", fmt.took(row.age)),
                    ("last new byte", f"{fmt.duration(row.quiet_for)} before it ended"),
                ]
            ),
            (
                "attempt",
                f"{row.attempt}" + (f" (the last threw away {fmt.size(row.lost_bytes)})" if row.lost_bytes else ""),
            ),
            *(
                [("resumed at", f"{fmt.size(row.resumed_from)}, kept from an earlier attempt or program")]
                if row.resumed_from
                else []
            ),
            *(
                [("kept", f"{fmt.size(row.kept_bytes)} of the unfinished file, for R to resume from")]
                if row.kept_bytes
                else []
            ),
            ("process", f"pid {row.pid}, started by hftop" if row.pid else "–"),
            ("transport", f"{row.transport}: {row.transport_why}" if row.transport else "–"),
            ("endpoint", row.endpoint or "–"),
            ("connected to", ", ".join(row.remotes) or "–"),
            *([("connections", _connections_line(row))] if row.connections is not None and row.state.active else []),
            *(
                [("bytes from", f"{row.bytes_elsewhere}, not from the mirror {urlsplit(row.endpoint).netloc}")]
                if row.bytes_elsewhere
                else [
                    (
                        "bytes from",
                        f"{row.bytes_from}, where {urlsplit(row.endpoint).netloc} sent it (its CDN or Xet storage)",
                    )
                ]
                if row.bytes_from
                else []
            ),
            (
                "revision",
                f"{row.request.revision} ({fmt.short_hash(row.plan.commit)})"
                if row.plan.commit
                else row.request.revision,
            ),
        ]
    else:
        p = row.progress
        rows = [
            ("file", row.file_name or f"unknown (blob {row.etag})"),
            ("bytes on disk", fmt.size(p.real_bytes) + (f" of {fmt.size(p.expected_size)}" if p.expected_size else "")),
            *(
                [("bytes fetched", f"{fmt.size(p.done)}: those on disk and those received, not yet written")]
                if fmt.size(p.done) != fmt.size(p.real_bytes)
                else []
            ),
            ("speed", fmt.rate(p.rate)),
            ("ETA", fmt.duration(p.eta)),
            ("last progress", f"{fmt.duration(p.quiet_for)} ago (file growth or bytes on its sockets)"),
            ("process", f"pid {row.owner_pid} ({row.owner_status}): {row.owner_command}" if row.owner_pid else "none"),
            ("process runs", _process_figures(row, now)),
            ("transport", f"{row.transport[0]}: {row.transport[1]}" if row.transport else "–"),
            ("connected to", ", ".join(row.owner_remotes) or "–"),
            ("lock held by", f"pid {row.lock_holder}" if row.lock_holder else "nobody"),
            ("partial file", row.key),
        ]
        if p.state is DownloadState.FAILED:  # its file is gone: what it had, when, and how it went
            rows = [
                rows[0],
                ("bytes on disk", f"none: its partial file went at {rows[1][1]}"),
                ("last progress", f"{fmt.duration(p.quiet_for)} ago"),
                ("transport", f"{row.transport[0]}: {row.transport[1]}" if row.transport else "–"),
                ("partial file", f"{row.key} (gone)"),
            ]
        rows += [("evidence" if i == 0 else "", line) for i, line in enumerate(row.evidence)]
    # A grid wraps each value in its own column at whatever width the dialog has when drawn (a scroll bar
    # that comes or goes included); a long path without spaces is folded.
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in rows:
        grid.add_row(Text(name), Text(value))  # Text: a path or a command line is never read as markup
    return grid


def _process_figures(row: ExternalDownload, now: float) -> str:
    if row.owner_started is None:
        return "–"
    cpu = f", {row.owner_cpu:.1f} % of a core" if row.owner_cpu is not None else ""
    return f"for {fmt.duration(now - row.owner_started)}{cpu}"


def _connections_line(row: DownloadView) -> str:
    if not row.connections:
        return "none open"
    idle = "" if row.net_idle is None else f", last data {fmt.duration(row.net_idle)} ago"
    return f"{fmt.count(row.connections, 'connection')} open{idle}"


def _timeline(entries: tuple[VerdictChange, ...]) -> Group | Text:
    """The verdicts the row went through, oldest first, each with the evidence it came with (wrapped
    under itself)."""
    if not entries:
        return Text("")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for change in entries:
        clock = time.strftime("%H:%M:%S", time.localtime(change.at))
        grid.add_row(clock, change.state.value, Text(change.why or ""))
    return Group(Text("Verdicts over time", style="dim"), grid)
