"""The downloads pane. Until downloads are tracked it says what it will show."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class DownloadsPane(Vertical, can_focus=True):
    """Every Hugging Face download on this machine."""

    def compose(self) -> ComposeResult:
        yield Static(
            Text.assemble(
                ("No downloads in progress.\n", "bold"),
                ("Hugging Face downloads on this machine (hf download, from_pretrained, hftop's own) appear here.", "dim"),
            ),
            id="downloads-empty",
        )

    def on_mount(self) -> None:
        self.border_title = "Downloads"
