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


class MirrorScreen(ModalScreen[Mirror | None]):
    """Dismisses with the chosen mirror (Enter), or None (Esc). Never waits for a probe: each
    mirror's row fills in when its answer comes, or says why none came."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close")]

    def __init__(self, mirrors: tuple[Mirror, ...], current: str) -> None:
        super().__init__()
        self.mirrors = mirrors
        self.current = current
        self.probes: dict[str, MirrorProbe] = {}
        self._probing: dict[Worker[None], Mirror] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="mirrors-body"):
            yield DataTable(id="mirrors-table", cursor_type="row")
            yield Static(id="mirrors-note")

    def on_mount(self) -> None:
        self.query_one("#mirrors-body").border_title = "Mirrors"
        table = self.query_one("#mirrors-table", DataTable)
        table.add_column("", key="current", width=1)
        table.add_column("Mirror", key="name")
        table.add_column("URL", key="url")
        table.add_column("Token", key="token")
        table.add_column("Status", key="status", width=44)
        for mirror in self.mirrors:
            table.add_row(
                "●" if mirror.url == self.current else "",
                mirror.name,
                mirror.url,
                Text("sent", style="yellow") if mirror.trusted else Text("never", style="green"),
                Text("probing…", style="dim"),
                key=mirror.url,
            )
            self._probing[self._probe(mirror)] = mirror
        table.move_cursor(row=next((i for i, m in enumerate(self.mirrors) if m.url == self.current), 0))
        table.focus()
        self.query_one("#mirrors-note", Static).update(
            Text(
                "Enter: new downloads and retries use the highlighted mirror (saved to the config); R on a running "
                "download restarts it there. Token 'sent': official or trusted in the config; 'never': your "
                "token does not leave this machine for it. Esc closes.",
                style="dim",
            )
        )

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
        style = "green" if probe.reachable else "red"
        self.query_one("#mirrors-table", DataTable).update_cell(
            mirror.url, "status", Text(probe.message, style=style), update_width=False
        )

    @on(DataTable.RowSelected)
    def _choose(self, event: DataTable.RowSelected) -> None:
        self.dismiss(next(m for m in self.mirrors if m.url == event.row_key.value))
