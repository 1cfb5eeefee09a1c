"""The line at the top: which cache, which endpoint, how much room is left."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.core import formatting as fmt
from tui.probes.disk import DiskSpace


def _home_relative(path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


class StatusLine(Static):
    space: reactive[DiskSpace | None] = reactive(None, init=False)

    def __init__(self, cache_dir: Path, endpoint: str, demo: bool = False, read_only: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache_dir = cache_dir
        self.endpoint = endpoint
        self.demo = demo
        self.read_only = read_only

    def on_mount(self) -> None:
        self.watch_space()

    def watch_space(self) -> None:
        if self.space is None:
            free = Text("… free", style="dim")
        else:
            share = self.space.free / self.space.total if self.space.total else 0
            style = "bold red" if share < 0.05 else "yellow" if share < 0.15 else "bold green"
            free = Text.assemble((fmt.size(self.space.free), style), f" free of {fmt.size(self.space.total)}")
        # Most important first: a narrow terminal cuts the end of the line.
        self.update(
            Text.assemble(
                ("hftop", "bold"),
                (" DEMO " if self.demo else "", "bold reverse yellow"),
                (" READ-ONLY " if self.read_only else "", "bold reverse cyan"),
                " │ ",
                (_home_relative(self.cache_dir), "bold"),
                " │ ",
                free,
                " │ endpoint ",
                (self.endpoint, "bold"),
            )
        )
