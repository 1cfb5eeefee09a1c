"""The downloads pane: one row a download, and what the highlighted one means in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload, row_key
from tui.monitor.monitor import Row, Snapshot
from tui.widgets.downloads.verdict import STATE_STYLE, explain
from tui.widgets.table_cells import cursor_key

# (header, key); every column fits its content, the repo column takes what is left
_COLUMNS = [("State", "state"), ("Repo", "repo"), ("Done", "done"), ("Speed", "speed"), ("ETA", "eta")]
_REPO = 1
_MIN_REPO = 12


@dataclass
class _DownloadAction(Message):
    view: DownloadView


@dataclass
class _OtherAction(Message):
    row: ExternalDownload


class DownloadsPane(Vertical, can_focus=True):
    """Every download hftop knows of, one a row."""

    BINDINGS = [
        Binding("x", "cancel", "Cancel"),
        Binding("R", "retry", "Retry", key_display="R"),
    ]
    KEYS: ClassVar[list[tuple[str, str]]] = [
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

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, init=False)
    """The monitor's latest snapshot; set by the dashboard."""

    class CancelRequested(_DownloadAction):
        """The user asked to cancel `view`'s download."""

    class RetryRequested(_DownloadAction):
        """The user asked to restart `view`'s download."""

    @dataclass
    class DetailsRequested(Message):
        """The user asked for the details of the row with `key`."""

        key: str

    class StopOtherRequested(_OtherAction):
        """The user asked to stop another program's download, or to delete what a dead one left."""

    class TakeOverRequested(_OtherAction):
        """The user asked hftop to fetch another program's file itself (stopping that program first)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._layout: tuple[tuple[str, int], ...] = ()
        """The columns (key, width) the table has now."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text.assemble(
                ("No downloads yet. ", "bold"),
                ("Press a to start one. Hugging Face downloads hftop starts appear here.", "dim"),
            ),
            id="downloads-empty",
        )
        table: DataTable[Text] = DataTable(id="downloads-table", cursor_type="row", zebra_stripes=False)
        table.display = False
        yield table
        yield Static(id="downloads-detail")

    def on_mount(self) -> None:
        self.border_title = "Downloads"

    @property
    def table(self) -> DataTable:
        return self.query_one("#downloads-table", DataTable)

    @property
    def highlighted(self) -> Row | None:
        key = cursor_key(self.table)
        return None if key is None or self.snapshot is None else self.snapshot.row(key)

    def _rows(self) -> tuple[Row, ...]:
        return () if self.snapshot is None else self.snapshot.rows

    def watch_snapshot(self) -> None:
        self._show_rows()

    def _show_rows(self) -> None:
        if not self.query("#downloads-table"):
            return  # a resize or a sample can come before the children are mounted
        table = self.table
        shown = self._rows()
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
        rows = [(row_key(v), self._cells(v) if isinstance(v, DownloadView) else _external_cells(v)) for v in shown]
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
        snapshot = self.snapshot
        detail.update("" if row is None or snapshot is None else explain(row, snapshot.stall_after))

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


def _external_cells(row: ExternalDownload) -> tuple[Text, ...]:
    p = row.progress
    if row.state is DownloadState.WAITING:
        return _row_cells(p.state, row.label, f"pid {row.waiting_for}", None, p.eta, p.quiet_for)
    done = fmt.size(p.done)  # bytes received count, also those not yet written (10 MiB steps)
    if p.expected_size:
        done += f" {min(1.0, p.done / p.expected_size):4.0%}"
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
        Text(state.value, style=STATE_STYLE[state]),
        Text(label),
        Text(done.rjust(13)),  # "999.9 MB 100%"
        Text(speed.plain.rjust(9), style=speed.style),
        Text(left.plain.rjust(5), style=left.style),
    )
