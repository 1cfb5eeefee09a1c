"""The downloads pane: one row a download, and what the highlighted one means in words."""

from __future__ import annotations

import time
from collections import deque

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload
from tui.widgets.table_cells import cursor_key

_STATE_STYLE = {
    DownloadState.STARTING: "dim",
    DownloadState.DOWNLOADING: "green",
    DownloadState.SLOW_TAIL: "bold yellow",
    DownloadState.STALLED: "bold red",
    DownloadState.CANCELLING: "yellow",
    DownloadState.FINISHING: "green",
    DownloadState.ORPHANED: "bold magenta",
    DownloadState.OWNER_UNKNOWN: "magenta",
    DownloadState.NO_SPACE: "bold red",
    DownloadState.WAITING: "yellow",
    DownloadState.DONE: "green",
    DownloadState.FAILED: "bold red",
    DownloadState.CANCELLED: "dim",
}

# (header, key); every column fits its content, the repo column takes what is left
_COLUMNS = [("State", "state"), ("Repo", "repo"), ("Done", "done"), ("Speed", "speed"), ("ETA", "eta")]
_REPO = 1
_MIN_REPO = 12
_HISTORY = 180
_TIMELINE = 12


class _DownloadAction(Message):
    def __init__(self, view: DownloadView) -> None:
        super().__init__()
        self.view = view


class _OtherAction(Message):
    def __init__(self, row: ExternalDownload) -> None:
        super().__init__()
        self.row = row


class DownloadsPane(Vertical, can_focus=True):
    """Every download hftop knows of, one a row."""

    BINDINGS = [
        Binding("x", "cancel", "Cancel"),
        Binding("R", "retry", "Retry", key_display="R"),
    ]
    HELP = [
        (
            "x",
            "cancel the highlighted download (its partial file is deleted); for another program's, stop its "
            "process, or delete the partial file a dead one left",
        ),
        (
            "R",
            "retry: restart it; says first how many bytes the restart throws away. On another program's "
            "download: stop it and fetch the same file with hftop, so the program finds it cached",
        ),
        ("Enter", "details: the numbers behind the verdict and the speed over time"),
    ]

    views: reactive[tuple[DownloadView, ...]] = reactive((), always_update=True, init=False)
    """The downloads hftop started; set by the app."""
    external: reactive[tuple[ExternalDownload, ...]] = reactive((), always_update=True, init=False)
    """Partial files of other programs' downloads (or their remains); set by the app."""

    class CancelRequested(_DownloadAction):
        """The user asked to cancel `view`'s download."""

    class RetryRequested(_DownloadAction):
        """The user asked to restart `view`'s download."""

    class DetailsRequested(Message):
        """The user asked for the details of the row with `key`."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class StopOtherRequested(_OtherAction):
        """The user asked to stop another program's download, or to delete what a dead one left."""

    class TakeOverRequested(_OtherAction):
        """The user asked hftop to fetch another program's file itself (stopping that program first)."""

    def __init__(self, stall_after: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stall_after = stall_after
        self._layout: tuple[tuple[str, int], ...] = ()
        """The columns (key, width) the table has now."""
        self.history: dict[str, deque[float]] = {}
        """Speed of each row at each refresh, for the details screen's sparkline."""
        self.timeline: dict[str, deque[tuple[float, str, str]]] = {}
        """Each row's verdicts as they changed: (wall-clock time, state, its first piece of evidence)."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text.assemble(
                ("No downloads yet. ", "bold"),
                ("Press a to start one. Hugging Face downloads hftop starts appear here.", "dim"),
            ),
            id="downloads-empty",
        )
        table = DataTable(id="downloads-table", cursor_type="row", zebra_stripes=False)
        table.display = False
        yield table
        yield Static(id="downloads-detail")

    def on_mount(self) -> None:
        self.border_title = "Downloads"

    @property
    def table(self) -> DataTable:
        return self.query_one("#downloads-table", DataTable)

    @property
    def highlighted(self) -> DownloadView | ExternalDownload | None:
        key = cursor_key(self.table)
        return next((row for row in self._rows() if _key(row) == key), None)

    def _rows(self) -> list[DownloadView | ExternalDownload]:
        return [*self.views, *self.external]

    def row(self, key: str) -> DownloadView | ExternalDownload | None:
        """The row with this key, as of the last refresh."""
        return next((r for r in self._rows() if _key(r) == key), None)

    def explain(self, row: DownloadView | ExternalDownload) -> Text:
        """The row's verdict in words, as the line under the table says it."""
        if isinstance(row, DownloadView):
            return describe(row, self.stall_after)
        return describe_external(row, self.stall_after)

    def _remember(self, shown: list[DownloadView | ExternalDownload]) -> None:
        keys = set()
        now = time.time()
        for row in shown:
            key = _key(row)
            keys.add(key)
            rate = row.rate if isinstance(row, DownloadView) else row.progress.rate
            self.history.setdefault(key, deque(maxlen=_HISTORY)).append(rate or 0.0)
            why = (row.error or "") if isinstance(row, DownloadView) else next(iter(row.evidence), "")
            timeline = self.timeline.setdefault(key, deque(maxlen=_TIMELINE))
            if not timeline or timeline[-1][1] != row.state.value:
                timeline.append((now, row.state.value, why))
        for gone in set(self.history) - keys:
            del self.history[gone]
        for gone in set(self.timeline) - keys:
            del self.timeline[gone]

    def watch_views(self) -> None:
        self._show_rows()

    def watch_external(self) -> None:
        self._show_rows()

    def _show_rows(self) -> None:
        if not self.query("#downloads-table"):
            return  # a resize or a sample can come before the children are mounted
        table = self.table
        shown = self._rows()
        self._remember(shown)
        empty = not shown
        self.query_one("#downloads-empty").display = empty
        table.display = not empty
        had_focus = self.has_focus
        self.can_focus = empty  # Tab reaches the pane while empty, its table once there are rows
        if had_focus and not empty:
            table.focus()  # rows arrived while the user was on the empty pane: stay in the pane
        if empty:
            self._render_detail()
            return
        previous = cursor_key(table)
        rows = [(_key(v), self._cells(v) if isinstance(v, DownloadView) else _external_cells(v)) for v in shown]
        columns = list(range(len(_COLUMNS)))
        visible_rows = self.content_size.height - 3  # the header and the two lines under the table
        scrollbar = 2 if len(rows) > visible_rows else 0
        widths = [
            max([len(label), *(len(cells[i].plain) for _, cells in rows)]) for i, (label, _) in enumerate(_COLUMNS)
        ]
        # Two cells of padding a column. A long repo id is cut; in a narrow pane ETA, then speed,
        # give way (the line under the table still says both).
        while True:
            others = sum(widths[i] + 2 for i in columns if i != _REPO)
            room = self.content_size.width - others - 2 - scrollbar
            if room >= _MIN_REPO or len(columns) <= 3:
                break
            columns.pop()
        repo_width = max(_MIN_REPO, min(widths[_REPO], room))
        layout = tuple((_COLUMNS[i][1], repo_width if i == _REPO else widths[i]) for i in columns)
        rows = [(key, tuple(cells[i] for i in columns)) for key, cells in rows]
        if layout == self._layout and [k for k, _ in rows] == [str(k.value) for k in table.rows]:
            # Same rows, same columns: change only the cells that changed (a rebuild every
            # refresh costs more CPU than everything else the pane does).
            for key, cells in rows:
                for (column, _), cell in zip(layout, cells, strict=True):
                    if table.get_cell(key, column) != cell:
                        table.update_cell(key, column, cell)
        else:
            table.clear(columns=True)
            for i, (column, width) in zip(columns, layout, strict=True):
                table.add_column(_COLUMNS[i][0], key=column, width=width)
            for key, cells in rows:
                table.add_row(*cells, key=key)
            self._layout = layout
            if previous is not None and previous in table.rows:
                table.move_cursor(row=table.get_row_index(previous), animate=False)
        self._render_detail()

    @on(DataTable.RowHighlighted, "#downloads-table")
    def _follow_cursor(self) -> None:
        self._render_detail()

    @on(DataTable.RowSelected, "#downloads-table")
    def _ask_for_details(self, event: DataTable.RowSelected) -> None:
        self.post_message(self.DetailsRequested(str(event.row_key.value)))

    def on_resize(self) -> None:
        self._show_rows()

    def _cells(self, v: DownloadView) -> tuple[Text, ...]:
        if v.state is DownloadState.DONE:
            done = f"{fmt.size(v.total_bytes)} ✓"
        elif v.fraction is not None:
            done = f"{fmt.size(v.done_bytes)} {v.fraction:4.0%}"
        else:
            done = fmt.size(v.done_bytes)
        return _row_cells(v.state, v.request.label, done, v.rate, v.eta, v.quiet_for)

    def _render_detail(self) -> None:
        detail = self.query_one("#downloads-detail", Static)
        row = self.highlighted
        detail.update("" if row is None else self.explain(row))

    def action_cancel(self) -> None:
        view = self.highlighted
        if isinstance(view, ExternalDownload):
            if view.state is DownloadState.OWNER_UNKNOWN:
                self.notify(
                    f"{view.label}: no process on this machine writes it, yet it is in use; hftop neither stops "
                    "nor deletes it.",
                    severity="warning",
                    timeout=8,
                )
            else:
                self.post_message(self.StopOtherRequested(view))
        elif view is None:
            self.notify("No download to cancel.", severity="warning", timeout=3)
        elif not view.state.active:
            self.notify(f"{view.request.label} is not running ({view.state.value}).", timeout=3)
        else:
            self.post_message(self.CancelRequested(view))

    def action_retry(self) -> None:
        view = self.highlighted
        if isinstance(view, ExternalDownload):
            if view.state is DownloadState.WAITING:
                self.notify(
                    f"This process waits for pid {view.waiting_for}, which fetches the same file: "
                    "R on that download's row fetches it with hftop.",
                    timeout=6,
                )
            elif view.repo_type == "local":
                self.notify(
                    f"{view.label}: a local-dir download does not say which repo it comes from, so hftop cannot "
                    "fetch it again. x stops it.",
                    severity="warning",
                    timeout=8,
                )
            elif view.file_name and view.commit:
                self.post_message(self.TakeOverRequested(view))
            else:
                self.notify(
                    f"{view.label}: no tree listing names this file, so hftop cannot fetch it again. "
                    "x stops or deletes it; then run its download again.",
                    severity="warning",
                    timeout=8,
                )
        elif view is None:
            self.notify("No download to retry.", severity="warning", timeout=3)
        elif view.state is DownloadState.DONE:
            self.notify(f"{view.request.label} is complete; nothing to retry.", timeout=3)
        elif view.state is DownloadState.CANCELLING:
            self.notify(f"{view.request.label} is still stopping.", timeout=3)
        else:
            self.post_message(self.RetryRequested(view))


def describe(v: DownloadView, stall_after: float) -> Text:
    """The highlighted download in a line or two: which file, what is happening, what the keys do."""
    count = len(v.plan.files)
    if v.current_file and v.state.active:
        where = v.current_file + (f" ({v.files_done + 1} of {count})" if count > 1 else "")
    else:
        where = v.plan.files[0].path if count == 1 else f"{count} files"
    head = Text.assemble((where, "bold"), f" · pid {v.pid} · " if v.pid and v.state.active else " · ")
    file = v.current_file or "the current file"
    lost = f" The last attempt threw away {fmt.size(v.lost_bytes)}." if v.lost_bytes and v.attempt > 1 else ""
    state = v.state
    if state is DownloadState.STALLED:
        body = Text.assemble(
            (f"No new bytes for {fmt.duration(v.quiet_for)}", "bold red"),
            f" (threshold {fmt.duration(stall_after)}). R restarts it (throws away {fmt.size(v.partial_bytes)}), "
            "x cancels.",
        )
    elif state is DownloadState.SLOW_TAIL:
        body = Text.assemble(
            ("Slow tail: ", "bold yellow"),
            f"{fmt.rate(v.rate)}, far under its own average; {fmt.duration(v.eta)} to go at this pace. "
            f"R restarts (throws away {fmt.size(v.partial_bytes)}).",
        )
    elif state is DownloadState.FAILED:
        thrown = f" {fmt.size(v.lost_bytes)} of {file} were thrown away." if v.lost_bytes else ""
        body = Text.assemble(("Failed: ", "bold red"), v.error or "unknown error", thrown, " R retries.")
    elif state is DownloadState.CANCELLED:
        thrown = f"; {fmt.size(v.lost_bytes)} of partial file deleted" if v.lost_bytes else ""
        body = Text(f"Cancelled{thrown}. R starts it again.", style="dim")
    elif state is DownloadState.DONE:
        body = Text(f"Done: {fmt.size(v.total_bytes)} fetched in {fmt.duration(v.age)}.{lost}", style="green")
    elif state is DownloadState.CANCELLING:
        body = Text("Stopping its process group…", style="yellow")
    elif state is DownloadState.STARTING:
        body = Text(f"Starting: asking the endpoint for {file}…{lost}", style="dim")
    else:
        again = f"attempt {v.attempt} · " if v.attempt > 1 else ""
        body = Text(
            f"{again}{fmt.size(v.done_bytes)} of {fmt.size(v.total_bytes)} at {fmt.rate(v.rate)}, "
            f"{fmt.duration(v.eta)} left.{lost} x cancels, R restarts.",
            style="dim",
        )
    # While bytes flow, where from: the mirror may redirect to a CDN or to Xet's storage. Short here
    # (two lines hold the whole verdict); the details name the host.
    if v.bytes_elsewhere and state in (DownloadState.DOWNLOADING, DownloadState.SLOW_TAIL):
        body += Text(" Bytes not from the mirror (Enter).", style="yellow")
    return head + body


def _key(row: DownloadView | ExternalDownload) -> str:
    return f"own:{row.id}" if isinstance(row, DownloadView) else f"partial:{row.key}"


def _external_cells(row: ExternalDownload) -> tuple[Text, ...]:
    p = row.progress
    if row.state is DownloadState.WAITING:
        return _row_cells(p.state, row.label, f"pid {row.waiting_for}", None, p.eta, p.quiet_for)
    done = fmt.size(p.real_bytes)
    if p.expected_size:
        done += f" {min(1.0, p.real_bytes / p.expected_size):4.0%}"
    return _row_cells(p.state, row.label, done, p.rate, p.eta, p.quiet_for)


def _row_cells(
    state: DownloadState, label: str, done: str, rate: float | None, eta: float | None, quiet_for: float
) -> tuple[Text, ...]:
    """State, repo, done, speed, ETA; a stalled row shows for how long nothing came instead."""
    if state is DownloadState.STALLED:
        speed, left = Text("no bytes", style="red"), Text(fmt.duration(quiet_for), style="red")
    elif state.active:
        speed, left = Text(fmt.rate(rate)), Text(fmt.duration(eta))
    else:
        speed, left = Text(""), Text("")
    return (
        Text(state.value, style=_STATE_STYLE[state]),
        Text(label),
        Text(done.rjust(13)),  # "999.9 MB 100%"
        Text(speed.plain.rjust(9), style=speed.style),
        Text(left.plain.rjust(5), style=left.style),
    )


def _external_keys(row: ExternalDownload) -> str:
    """What the keys do for this row, in the words of its verdict."""
    state = row.state
    refetch = bool(row.file_name and row.commit) and row.repo_type != "local"
    again = ", R fetches the file again with hftop" if refetch else ""
    if state is DownloadState.ORPHANED:
        return f"x deletes it{again}."
    if state is DownloadState.OWNER_UNKNOWN:
        return "hftop leaves it alone: its writer is out of reach."
    if state is DownloadState.WAITING:
        return "x stops the waiting process."
    if state is DownloadState.NO_SPACE:
        return "c shows the cache, largest first, to free space; x stops the process."
    if state is DownloadState.FINISHING:
        return ""
    return f"x stops its process{again.replace('again', 'instead')}."


def describe_external(row: ExternalDownload, stall_after: float) -> Text:
    """Another program's download in a line or two: whose it is, the verdict's evidence, the keys."""
    p = row.progress
    name = row.file_name or f"blob {row.etag[:12]}"
    # Two lines hold the verdict; the command line and the hosts are in the details (Enter).
    pid = f" · pid {row.owner_pid} ({row.owner_status})" if row.owner_pid is not None else ""
    head = Text.assemble((name, "bold"), pid, " · ")
    evidence = list(row.evidence) or [p.state.value]
    if p.state is DownloadState.STALLED:
        evidence[0] += f" (threshold {fmt.duration(stall_after)})"
    keys = _external_keys(row)
    # The first piece of evidence and the keys; Enter shows the rest.
    return head + Text.assemble(
        (evidence[0][:1].upper() + evidence[0][1:], _STATE_STYLE[p.state]),
        f". {keys}" if keys else ".",
        (" Enter: evidence." if len(evidence) > 1 else "", "dim"),
    )
