"""The downloads pane: one row a download, and what the highlighted one means in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import Console
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload, row_key
from tui.monitor.monitor import Row, Snapshot
from tui.widgets.downloads.verdict import STATE_STYLE, explain, severity
from tui.widgets.table_cells import ROW_KEYS, cursor_key, middle_cut, shared_prefix

# (header, key); every column fits its content, the repo column takes what is left
_COLUMNS = [("State", "state"), ("Repo", "repo"), ("Done", "done"), ("Speed", "speed"), ("ETA", "eta")]
_REPO = 1
_MIN_REPO = 10
"""Under this a repo id cut in the middle no longer tells one from another: ETA, then speed give way."""


@dataclass(frozen=True)
class _Cells:
    """A row before it is fitted to the pane's width."""

    state: Text
    repo: str
    done: str
    """Bytes done, e.g. `100.5 MB`."""
    percent: str
    """e.g. ` 63%`; empty when the size is unknown."""
    speed: Text
    short_speed: Text
    """The speed in fewer cells (`148 kB/s`), for a narrow pane."""
    eta: Text

    def fitted(self, form: _Form, repo_width: int, columns: int) -> tuple[Text, ...]:
        prefix = form.prefix
        repo = PREFIX_MARK + self.repo[len(prefix) :] if prefix and self.repo.startswith(prefix) else self.repo
        with_bytes = form.with_bytes
        done = f"{self.done} {self.percent}".strip() if with_bytes or not self.percent else self.percent.strip()
        speed = self.short_speed if form.short_speed else self.speed
        cells = (
            self.state,
            Text(middle_cut(repo, repo_width)),
            Text(done.rjust(13 if with_bytes else 4)),  # "999.9 MB 100%"
            Text(speed.plain.rjust(8 if form.short_speed else 9), style=speed.style),
            Text(self.eta.plain.rjust(5), style=self.eta.style),
        )
        return cells[:columns]


PREFIX_MARK = "…/"
"""Where the `org/` that every row shares is left out (the pane's title names it)."""


@dataclass(frozen=True)
class _Form:
    """How much of a row a layout shows."""

    with_bytes: bool = True
    prefix: str = ""
    """The `org/` left out of every repo id ('' for none)."""
    short_speed: bool = False


_CURSOR_KEYS = frozenset({"up", "down", "pageup", "pagedown", "home", "end", "ctrl+home", "ctrl+end"})
"""Keys with which the user picks a row of the table."""


class DownloadsTable(DataTable[Text]):
    """The downloads' rows; Enter shows the highlighted one's details (and says so in the footer)."""

    BINDINGS = [Binding("enter", "select_cursor", "Details", key_display="⏎"), *ROW_KEYS]


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
        Binding("x", "discard_kept", "Delete kept bytes"),
        Binding("R", "retry", "Retry", key_display="R"),
    ]
    KEYS: ClassVar[list[tuple[str, str]]] = [
        (
            "x",
            "cancel the highlighted download (asks whether to delete the current file's bytes or keep them to "
            "resume later); on an ended one, delete the bytes it kept; for another program's, stop its process, "
            "or delete the partial file a dead one left",
        ),
        (
            "R",
            "retry: restart it, resuming the current file from its bytes on disk. On another program's "
            "download: keep its bytes, stop it and resume the file with hftop, so the program finds it cached; "
            "on a dead program's partial file: resume it",
        ),
        ("Enter", "details: the numbers behind the verdict and the speed over time"),
    ]

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, init=False, repaint=False)
    """The monitor's latest snapshot; set by the dashboard."""

    class CancelRequested(_DownloadAction):
        """The user asked to cancel `view`'s download."""

    class RetryRequested(_DownloadAction):
        """The user asked to restart `view`'s download."""

    class DiscardKeptRequested(_DownloadAction):
        """The user asked to delete the bytes `view`'s ended download kept for a resume."""

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
        self._detail_shown: Text | None = None
        self._picked = False
        """The user moved the cursor: it follows that row as rows come and go and reorder. Until then it
        stays on the top row, what needs a person first."""
        self._discard_shown = False
        """The footer offers x to delete kept bytes (the highlighted download ended with bytes kept)."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text.assemble(
                ("No downloads yet. ", "bold"),
                ("Press a to start one. Hugging Face downloads hftop starts appear here.", "dim"),
            ),
            id="downloads-empty",
        )
        # The cells' colours win over the cursor's, so the state stays readable on the highlighted row.
        table = DownloadsTable(
            id="downloads-table",
            cursor_type="row",
            zebra_stripes=False,
            cursor_foreground_priority="renderable",
            cursor_background_priority="renderable",
        )
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

    def wanted_height(self) -> int:
        """Lines the pane needs to show every row: its border, the header, the rows, the verdict's two lines."""
        rows = len(self._rows())
        return 2 + (1 + rows if rows else 1) + 2

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
            self._set_title("Downloads")
            self._render_detail()
            return
        previous = cursor_key(table)
        # What needs a person first; within a state, in the order they came.
        ordered = sorted(shown, key=lambda v: severity(v.state))
        fitted = self._fit([(row_key(v), _cells(v)) for v in ordered])
        rows = [(key, cells) for key, cells in fitted.rows]
        layout = fitted.layout
        if layout == self._layout and [k for k, _ in rows] == [str(k.value) for k in table.rows]:
            # Same rows, same columns: change only the cells that changed (a rebuild every
            # refresh costs more CPU than everything else the pane does).
            for key, cells in rows:
                for (column, _), cell in zip(layout, cells, strict=True):
                    if table.get_cell(key, column) != cell:
                        table.update_cell(key, column, cell)
        else:
            table.clear(columns=True)
            for i, (column, width) in enumerate(layout):
                table.add_column(_COLUMNS[i][0], key=column, width=width)
            for key, cells in rows:
                table.add_row(*cells, key=key)
            self._layout = layout
            if self._picked and previous is not None and previous in table.rows:
                table.move_cursor(row=table.get_row_index(previous), animate=False)
        self._set_title(f"Downloads · {PREFIX_MARK} is {fitted.prefix}" if fitted.prefix else "Downloads")
        self._render_detail()

    def _set_title(self, title: str) -> None:
        if self.border_title != title:  # each assignment repaints the pane, changed or not
            self.border_title = title

    def _fit(self, rows: list[tuple[str, _Cells]]) -> _Fitted:
        """The columns that fit the pane: every repo id whole if it can be; else the `org/` all rows share
        left out (the title says which), the bytes left out of Done (the percent stays), the id cut in
        the middle with `…`; last, in a pane narrower still, ETA and then speed give way."""
        visible_rows = self.content_size.height - 3  # the header and the two lines under the table
        scrollbar = 2 if len(rows) > visible_rows else 0
        room = self.content_size.width - scrollbar
        prefix = shared_prefix([c.repo for _, c in rows])

        def widths(columns: int, form: _Form) -> list[int]:
            sample = [c.fitted(form, 10_000, columns) for _, c in rows]
            return [
                max([len(label), *(len(cells[i].plain) for cells in sample)])
                for i, (label, _) in enumerate(_COLUMNS[:columns])
            ]

        forms = [_Form(), _Form(prefix=prefix), _Form(False, prefix), _Form(False, prefix, short_speed=True)]
        choice: tuple[int, _Form, int] | None = None
        for columns in (5, 4, 3):
            for form in forms:
                w = widths(columns, form)
                left = room - sum(x + 2 for i, x in enumerate(w) if i != _REPO) - 2
                if left >= w[_REPO]:
                    choice = (columns, form, w[_REPO])
                    break
                if form is forms[-1] and left >= _MIN_REPO:
                    choice = (columns, form, left)  # cut in the middle
                    break
            if choice is not None:
                break
        if choice is None:  # narrower than any layout: the fewest columns, repo cut as needed
            w = widths(3, forms[-1])
            choice = (3, forms[-1], max(4, room - sum(x + 2 for i, x in enumerate(w) if i != _REPO) - 2))
        columns, form, repo_width = choice
        w = widths(columns, form)
        w[_REPO] = repo_width
        layout = tuple((_COLUMNS[i][1], w[i]) for i in range(columns))
        return _Fitted(
            layout=layout,
            rows=[(key, c.fitted(form, repo_width, columns)) for key, c in rows],
            prefix=form.prefix,
        )

    @on(DataTable.RowHighlighted, "#downloads-table")
    def _follow_cursor(self) -> None:
        self._render_detail()

    def on_key(self, event: events.Key) -> None:
        if event.key in _CURSOR_KEYS:
            self._picked = True

    def on_click(self) -> None:
        self._picked = True

    def show_details(self) -> None:
        """The details of the highlighted download, as Enter on its row."""
        key = cursor_key(self.table)
        if key is None:
            self.notify("No download to show.", severity="warning", timeout=3)
        else:
            self.post_message(self.DetailsRequested(key))

    @on(DataTable.RowSelected, "#downloads-table")
    def _ask_for_details(self, event: DataTable.RowSelected) -> None:
        self._picked = True
        self.post_message(self.DetailsRequested(str(event.row_key.value)))

    def on_resize(self) -> None:
        self._show_rows()

    def _render_detail(self) -> None:
        if (discard := self._on_an_ended_download_with_kept_bytes()) != self._discard_shown:
            self._discard_shown = discard
            self.refresh_bindings()
        detail = self.query_one("#downloads-detail", Static)
        row = self.highlighted
        snapshot = self.snapshot
        text = (
            Text("")
            if row is None or snapshot is None
            else _fitted(explain(row, snapshot.stall_after), detail.content_size.width, DETAIL_LINES)
        )
        if text != self._detail_shown:  # fixed height: a new text needs no layout pass
            self._detail_shown = text
            detail.update(text, layout=False)

    def _on_an_ended_download_with_kept_bytes(self) -> bool:
        view = self.highlighted
        return isinstance(view, DownloadView) and not view.state.active and view.kept_bytes > 0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """x cancels, or on an ended download of hftop's own with bytes kept, deletes them: the footer says which."""
        if action in ("cancel", "discard_kept"):
            return (action == "discard_kept") == self._on_an_ended_download_with_kept_bytes()
        return True

    def action_discard_kept(self) -> None:
        view = self.highlighted
        if isinstance(view, DownloadView):
            self.post_message(self.DiscardKeptRequested(view))

    def action_cancel(self) -> None:
        view = self.highlighted
        if isinstance(view, ExternalDownload):
            if view.state is DownloadState.FAILED:
                self.notify(f"{view.label}: its download has ended and its file is gone.", timeout=4)
            elif view.state is DownloadState.OWNER_UNKNOWN:
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
        elif not view.state.active and view.kept_bytes:
            self.post_message(self.DiscardKeptRequested(view))
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
                    "resume it (it resumes files of the Hub cache). x stops it; run its download again.",
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


@dataclass(frozen=True)
class _Fitted:
    layout: tuple[tuple[str, int], ...]
    rows: list[tuple[str, tuple[Text, ...]]]
    prefix: str
    """The `org/` left out of every repo id ('' for none)."""


def _cells(row: Row) -> _Cells:
    if isinstance(row, DownloadView):
        v = row
        if v.state is DownloadState.DONE:
            return _row_cells(v.state, v.request.label, fmt.size(v.total_bytes), "100%", None, None, 0)
        percent = f"{v.fraction:4.0%}" if v.fraction is not None else ""
        return _row_cells(v.state, v.request.label, fmt.size(v.done_bytes), percent, v.rate, v.eta, v.quiet_for)
    p = row.progress
    if row.state is DownloadState.WAITING:
        return _row_cells(p.state, row.label, f"pid {row.waiting_for}", "", None, p.eta, p.quiet_for)
    # Bytes received count, also those not yet written (10 MiB steps).
    percent = f"{min(1.0, p.done / p.expected_size):4.0%}" if p.expected_size else ""
    return _row_cells(p.state, row.label, fmt.size(p.done), percent, p.rate, p.eta, p.quiet_for)


def _row_cells(
    state: DownloadState,
    label: str,
    done: str,
    percent: str,
    rate: float | None,
    eta: float | None,
    quiet_for: float,
) -> _Cells:
    """State, repo, done, speed, ETA. Where an ETA means nothing the ETA column says why: a stalled row
    reads `no bytes` `for 1m21s` (`retrying` while bytes arrive that bring it no further), a waiting one `waits`,
    one that does not fit `no room`."""
    short = Text(_short_rate(rate))
    if state is DownloadState.STALLED:
        speed = short = Text("retrying" if rate else "no bytes", style="bold #ff5f5f")
        left = Text(f"for {fmt.duration(quiet_for)}", style="bold #ff5f5f")
    elif state is DownloadState.WAITING:
        speed, short, left = Text(""), Text(""), Text("waits", style="cyan")
    elif state is DownloadState.NO_SPACE:
        speed, left = Text(fmt.rate(rate)), Text("no room", style="#ff8700")
    elif state.active:
        speed, left = Text(fmt.rate(rate)), Text(fmt.duration(eta))
    else:
        speed, short, left = Text(""), Text(""), Text("")
    return _Cells(Text(state.value, style=STATE_STYLE[state]), label, done, percent, speed, short, left)


def _short_rate(rate: float | None) -> str:
    """`148 kB/s` for `147.8 kB/s`: no decimal from 10 up (three digits say enough at a glance)."""
    text = fmt.rate(rate)
    number, _, unit = text.partition(" ")
    try:
        value = float(number)
    except ValueError:
        return text
    return f"{value:.0f} {unit}" if value >= 10 else text


DETAIL_LINES = 2
"""The lines under the table for the highlighted download's verdict."""

_MEASURE = Console(width=1000)  # lays text out in lines; it draws nothing


def _fitted(text: Text, width: int, lines: int) -> Text:
    """`text` in at most `lines` lines of `width`, its end replaced by `…` when it does not fit (never cut
    without a mark); Enter shows it whole."""
    if width <= 1:
        return text
    wrapped = text.wrap(_MEASURE, width)
    if len(wrapped) <= lines:
        return text
    kept = list(wrapped)[:lines]
    last = kept[-1].copy()
    last.rstrip()
    last.truncate(width - 1)
    last.append("…")
    kept[-1] = last
    return Text("\n").join(kept)
