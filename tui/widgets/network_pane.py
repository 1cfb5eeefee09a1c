"""The network pane: system throughput from psutil counters, now / average / peak / total, with history."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Sparkline, Static

from tui.core import formatting as fmt
from tui.core.throughput import ALL, ThroughputView


class NetworkPane(Vertical, can_focus=True):
    """Receive and send rates of the chosen interface (all but loopback by default; all in the demo)."""

    KEYS: ClassVar[list[tuple[str, str]]] = [("i", "cycle the network pane between all interfaces and each one")]

    view: reactive[ThroughputView | None] = reactive(None, init=False)

    def __init__(self, loopback_counted: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loopback_counted = loopback_counted
        """The demo counts loopback in "all": its hub and downloads are all there."""

    def compose(self) -> ComposeResult:
        self._figures = Static(id="net-figures")
        self._rx = Sparkline([], id="net-rx", summary_function=max)
        self._tx = Sparkline([], id="net-tx", summary_function=max)
        yield self._figures
        with Horizontal(classes="net-row"):
            yield Static("↓", classes="net-arrow rx")
            yield self._rx
        with Horizontal(classes="net-row"):
            yield Static("↑", classes="net-arrow tx")
            yield self._tx

    def on_mount(self) -> None:
        self.border_title = "Network"
        self.watch_view()

    def on_resize(self) -> None:
        self.watch_view()

    def watch_view(self) -> None:
        figures = getattr(self, "_figures", None)
        if figures is None or not figures.is_mounted:
            return  # on_mount renders the latest view
        view = self.view
        if view is None:
            figures.update("Sampling…")
            return
        everything = "all, loopback included" if self.loopback_counted else "all but loopback"
        which = everything if view.interface == ALL else view.interface
        span = int(view.seconds_covered)
        # A title longer than the border is cut without a mark: a narrow pane gets the short forms.
        room = self.size.width - 4
        title = f"Network · {which}"
        self.border_title = title if len(title) <= room else which if len(which) <= room else "Network"
        subtitle = f"last {span // 60}:{span % 60:02d} · i: interface"
        self.border_subtitle = subtitle if len(subtitle) <= room else "i: interface"
        # Four figures need about 44 cells; a narrower pane leaves out the average, then the peak,
        # then the total (the sparklines still show the peak).
        width = self.content_size.width
        shown = (
            (0, 1, 2, 3, 4) if width >= 42 else (0, 1, 3, 4) if width >= 32 else (0, 1, 4) if width >= 20 else (0, 1)
        )
        grid = Table.grid(padding=(0, 1))
        for _ in shown:
            grid.add_column(justify="right", no_wrap=True)

        def row(*cells: Text | str) -> None:
            grid.add_row(*(cells[i] for i in shown))

        row("", *(Text(h, style="dim") for h in ("now", "avg", "peak", "total")))
        row(
            Text("↓", style="bold green"),
            fmt.rate(view.rx_now),
            fmt.rate(view.rx_avg),
            fmt.rate(view.rx_peak),
            fmt.size(view.rx_total),
        )
        row(
            Text("↑", style="bold magenta"),
            fmt.rate(view.tx_now),
            fmt.rate(view.tx_avg),
            fmt.rate(view.tx_peak),
            fmt.size(view.tx_total),
        )
        figures.update(grid)
        self._rx.data = list(view.rx_history)
        self._tx.data = list(view.tx_history)
