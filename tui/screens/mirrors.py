"""`m`: the mirrors, each probed in a worker thread, and which one new downloads use."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from tui.core.mirrors import Mirror
from tui.probes.hub import MirrorProbe, probe_mirror
from tui.screens.confirm import ConfirmScreen
from tui.widgets.table_cells import cursor_key, middle_cut

_NOTE = (
    "Enter: new downloads and retries use the highlighted mirror (saved to the config); R on a running "
    "download restarts it there. Token 'sent': official or trusted in the config; 'never': your "
    "token does not leave this machine for it. Esc closes."
)


class MirrorScreen(ModalScreen[Mirror | None]):
    """Dismisses with the chosen mirror (Enter), or None (Esc). Never waits for a probe: each
    mirror's row fills in when its answer comes, or says why none came. Choosing one that did not
    answer (or has not yet) asks first."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close")]

    def __init__(self, mirrors: tuple[Mirror, ...], current: str) -> None:
        super().__init__()
        self.mirrors = mirrors
        self.current = current
        self.probes: dict[str, MirrorProbe] = {}
        self._probing: dict[Worker[None], Mirror] = {}
        self._width = 0
        self._status_width = 44

    def compose(self) -> ComposeResult:
        with Vertical(id="mirrors-body"):
            yield DataTable(id="mirrors-table", cursor_type="row")
            yield Static(id="mirrors-status")
            yield Static(Text(_NOTE, style="dim"), id="mirrors-note")

    def on_mount(self) -> None:
        self.query_one("#mirrors-body").border_title = "Mirrors"
        self._fill()
        table = self.query_one("#mirrors-table", DataTable)
        table.move_cursor(row=next((i for i, m in enumerate(self.mirrors) if m.url == self.current), 0))
        table.focus()
        for mirror in self.mirrors:
            self._probing[self._probe(mirror)] = mirror

    def on_resize(self) -> None:
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        if self.is_attached and self.query_one("#mirrors-table").size.width != self._width:
            self._fill()

    def _fill(self) -> None:
        """The rows, with columns that fit the dialog: the status column takes what the others leave,
        a longer status is cut with `…` (the line under the table gives the highlighted one in full)."""
        table = self.query_one("#mirrors-table", DataTable)
        previous = cursor_key(table)
        self._width = table.size.width
        room = self._width or 90
        name_w = min(20, max(6, *(len(m.name) for m in self.mirrors)))
        url_w = min(40, max(3, *(len(m.url) for m in self.mirrors)))
        status_w = max(12, room - (1 + name_w + url_w + 5) - 5 * 2)
        if room - (1 + name_w + 5 + status_w) - 5 * 2 < url_w:  # narrow: the URL gives way first
            url_w = max(12, room - (1 + name_w + 5 + status_w) - 5 * 2)
        self._status_width = status_w
        table.clear(columns=True)
        table.add_column("", key="current", width=1)
        table.add_column("Mirror", key="name", width=name_w)
        table.add_column("URL", key="url", width=url_w)
        table.add_column("Token", key="token", width=5)
        table.add_column("Status", key="status", width=status_w)
        for mirror in self.mirrors:
            table.add_row(
                "●" if mirror.url == self.current else "",
                middle_cut(mirror.name, name_w),
                middle_cut(mirror.url, url_w),
                Text("sent", style="yellow") if mirror.trusted else Text("never", style="green"),
                self._status(mirror, status_w),
                key=mirror.url,
            )
        if previous is not None and previous in table.rows:
            table.move_cursor(row=table.get_row_index(previous), animate=False)
        self._show_highlighted()

    def _status(self, mirror: Mirror, width: int) -> Text:
        probe = self.probes.get(mirror.url)
        if probe is None:
            return Text("probing…", style="dim")
        message = probe.message if len(probe.message) <= width else probe.message[: width - 1] + "…"
        return Text(message, style="green" if probe.reachable else "red")

    @work(thread=True, exit_on_error=False, name="probe")
    def _probe(self, mirror: Mirror) -> None:
        result = probe_mirror(mirror.url)
        self.app.call_from_thread(self._show_probe, mirror, result)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A probe that failed in a way probe_mirror did not put in words still says so, never "probing…".
        if event.state is WorkerState.ERROR:
            mirror = self._probing.get(event.worker)
            if mirror is not None:
                self._show_probe(mirror, MirrorProbe(False, None, f"probe failed: {event.worker.error}"))

    def _show_probe(self, mirror: Mirror, probe: MirrorProbe) -> None:
        self.probes[mirror.url] = probe
        if not self.is_attached:
            return
        table = self.query_one("#mirrors-table", DataTable)
        table.update_cell(mirror.url, "status", self._status(mirror, self._status_width), update_width=False)
        self._show_highlighted()

    @on(DataTable.RowHighlighted)
    def _show_highlighted(self) -> None:
        status = self.query_one("#mirrors-status", Static)
        key = cursor_key(self.query_one("#mirrors-table", DataTable))
        mirror = next((m for m in self.mirrors if m.url == key), None)
        if mirror is None:
            status.update("")
            return
        probe = self.probes.get(mirror.url)
        if probe is None:
            status.update(Text(f"{mirror.url}: probing…", style="dim"))
        else:
            style = "green" if probe.reachable else "bold red"
            status.update(Text.assemble((mirror.url, "bold"), ": ", (probe.message, style)))

    @on(DataTable.RowSelected)
    def _choose(self, event: DataTable.RowSelected) -> None:
        mirror = next(m for m in self.mirrors if m.url == event.row_key.value)
        probe = self.probes.get(mirror.url)
        if mirror.url == self.current or (probe is not None and probe.reachable):
            self.dismiss(mirror)
            return
        why = "has not answered yet" if probe is None else f"did not answer: {probe.message.rstrip('.')}"
        body = Text.assemble(
            (mirror.name, "bold"),
            f" ({mirror.url}) {why}.\n\n",
            "New downloads and retries would go to it and fail until it answers. Use it anyway?",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(mirror)

        self.app.push_screen(
            ConfirmScreen("A mirror that did not answer", body, "Use it", "Keep the current"), answered
        )
