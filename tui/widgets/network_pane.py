"""The network pane: system throughput from psutil counters, now / average / peak / total, with history."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static

from tui.core import formatting as fmt
from tui.core.throughput import ALL, ThroughputView


class RateHistory(Static):
    """A rate's recent history as bars (what Textual's Sparkline draws, which costs half a percent of a core
    redrawn each second: this is a Static whose text changes only when a bar does)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._values: tuple[float, ...] = ()
        self._shown: list[str] | None = None

    def show(self, values: tuple[float, ...]) -> None:
        self._values = values
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        rows = fmt.bar_rows(self._values, self.content_size.width, self.content_size.height or 2)
        if rows != self._shown:
            self._shown = rows
            self.update("\n".join(rows), layout=False)


class NetworkPane(Vertical, can_focus=True):
    """Receive and send rates of the chosen interface (all but loopback by default; all in the demo)."""

    KEYS: ClassVar[list[tuple[str, str]]] = [("i", "cycle the network pane between all interfaces and each one")]

    view: reactive[ThroughputView | None] = reactive(None, init=False, repaint=False)

    def __init__(self, loopback_counted: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loopback_counted = loopback_counted
        """The demo counts loopback in "all": its hub and downloads are all there."""
        self._figures_shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        self._figures = Static(id="net-figures")
        self._rx = RateHistory(id="net-rx")
        self._tx = RateHistory(id="net-tx")
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
            self._figures_shown = None
            return
        everything = "all, loopback included" if self.loopback_counted else "all but loopback"
        which = everything if view.interface == ALL else view.interface
        span = int(view.seconds_covered) // 10 * 10  # in steps of 10 s: a new subtitle repaints the whole pane
        # A title longer than the border is cut without a mark: a narrow pane gets the short forms.
        room = self.size.width - 4
        title = f"Network · {which}"
        title = title if len(title) <= room else which if len(which) <= room else "Network"
        subtitle = f"last {span // 60}:{span % 60:02d} · i: interface"
        subtitle = subtitle if len(subtitle) <= room else "i: interface"
        if (self.border_title, self.border_subtitle) != (title, subtitle):  # each change repaints the pane
            self.border_title, self.border_subtitle = title, subtitle
        # Four figures need about 44 cells; a narrower pane leaves out the average, then the peak,
        # then the total (the sparklines still show the peak).
        width = self.content_size.width
        self._rx.show(tuple(view.rx_history))
        self._tx.show(tuple(view.tx_history))
        figures_now = (
            width,
            *(fmt.rate(v) for v in (view.rx_now, view.rx_avg, view.rx_peak, view.tx_now, view.tx_avg, view.tx_peak)),
            fmt.size(view.rx_total),
            fmt.size(view.tx_total),
        )
        if figures_now == self._figures_shown:
            return  # what the figures show is unchanged: no redraw
        self._figures_shown = figures_now
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
        figures.update(grid, layout=False)  # three lines of fixed height
