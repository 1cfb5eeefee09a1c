"""The line at the top: which cache, which endpoint, how much room is left."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState
from tui.probes.disk import DiskSpace
from tui.widgets.downloads.verdict import badge
from tui.widgets.table_cells import middle_cut


def _home_relative(path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


class StatusLine(Static):
    space: reactive[DiskSpace | None] = reactive(None, init=False, repaint=False)
    states: reactive[tuple[DownloadState, ...]] = reactive((), init=False, repaint=False)
    """The state of every download on screen; the line counts those that need a look."""

    def __init__(self, cache_dir: Path, endpoint: str, demo: bool = False, read_only: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache_dir = cache_dir
        self.endpoint = endpoint
        self.demo = demo
        self.read_only = read_only
        self._shown: Text | None = None

    def on_mount(self) -> None:
        self.watch_space()

    def on_resize(self) -> None:
        self.watch_space()

    def watch_states(self) -> None:
        self.watch_space()

    def watch_space(self) -> None:
        room = self.content_size.width or 10_000
        # Most important first; the longer forms give way to shorter ones until the line fits: the
        # total size, the word "endpoint", the scheme, the badge's third state, the middle of the cache
        # folder and of the endpoint, the badge's second state.
        for compact in range(7):
            line = self._line(compact, room)
            if line.cell_len <= room:
                break
        if line != self._shown:  # one line of fixed height: a new one needs no layout pass
            self._shown = line
            self.update(line, layout=False)

    def _line(self, compact: int, room: int) -> Text:
        if self.space is None:
            free = Text("… free", style="dim")
        else:
            share = self.space.free / self.space.total if self.space.total else 0
            style = "bold red" if share < 0.05 else "yellow" if share < 0.15 else "bold green"
            total = f" free of {fmt.size(self.space.total)}" if compact < 1 else " free"
            free = Text.assemble((fmt.size(self.space.free), style), total)
        troubles = badge(list(self.states), None if compact < 4 else 2 if compact < 6 else 1)
        head = Text.assemble(
            ("hftop", "bold"),
            (" DEMO " if self.demo else "", "bold reverse yellow"),
            (" READ-ONLY " if self.read_only else "", "bold reverse cyan"),
            *((" │ ", troubles) if troubles else ()),
        )
        cache = _home_relative(self.cache_dir)
        endpoint = self.endpoint
        label = " │ endpoint " if compact < 2 else " │ "
        if compact >= 3:
            endpoint = endpoint.removeprefix("https://").removeprefix("http://")
        if compact >= 5:
            # What is left goes to the endpoint first, then to the folder, cut in the middle.
            left = room - head.cell_len - free.cell_len - 9  # three separators
            cache = middle_cut(cache, max(8, left - len(endpoint)))
            endpoint = middle_cut(endpoint, max(8, left - len(cache)))
        line = Text.assemble(head, " │ ", (cache, "bold"), " │ ", free, label, (endpoint, "bold"))
        line.no_wrap, line.overflow = True, "ellipsis"  # never a second line that its one row hides
        return line
