"""`?`: every key hftop answers to, gathered from the bindings themselves so the list cannot go stale."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = [
            *sections,
            (
                "Mouse",
                [
                    (
                        "click",
                        "focus a pane; highlight a row, click again to open it; click a column header to sort by it",
                    ),
                    ("wheel", "scroll"),
                ],
            ),
        ]
        """Every (title, [(keys, what they do)]) the screen shows."""

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, rows in self.sections:
            table.add_row(Text(title, style="bold underline"), "")
            for key, text in rows:
                table.add_row(key, text)
            table.add_row("", "")
        with VerticalScroll(id="help-body"):
            yield Static(table)

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = "hftop keys"
        body.border_subtitle = "↑↓ PgUp PgDn Home End scroll · Esc, q or ? closes"
        body.focus()  # arrows, Page Up/Down, Home and End scroll it


def binding_rows(bindings: Iterable[Binding | tuple[str, ...]]) -> list[tuple[str, str]]:
    """(keys, description) of each binding that has a description."""
    rows = []
    for entry in bindings:
        binding = (
            entry if isinstance(entry, Binding) else Binding(entry[0], entry[1], entry[2] if len(entry) > 2 else "")
        )
        if not binding.description:
            continue
        keys = binding.key_display or binding.key.replace("question_mark", "?").replace(",", " / ")
        rows.append((keys, binding.description))
    return rows
