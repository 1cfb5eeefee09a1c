"""`w`: the cache's warnings, one per corrupted repo folder, as huggingface_hub reported them."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class WarningsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,w", "dismiss", "Close")]

    def __init__(self, warnings: list[str]) -> None:
        super().__init__()
        self.warnings = warnings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="warnings-body"):
            if not self.warnings:
                yield Static("The last scan found nothing wrong with the cache.")
            for text in self.warnings:
                yield Static(Text.assemble(("• ", "bold red"), text), classes="warning")
            yield Static(
                Text(
                    "Repos with warnings are left out of the list and the totals. "
                    "huggingface_hub cannot read them; deleting the folder is the usual fix.",
                    style="dim",
                )
            )
        yield Static(Text("Esc closes", style="dim"), id="warnings-footer")

    def on_mount(self) -> None:
        self.query_one("#warnings-body").border_title = f"Cache warnings ({len(self.warnings)})"
