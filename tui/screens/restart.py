"""Restart a download, choosing how: over plain HTTP (`HF_HUB_DISABLE_XET=1`) or over Xet again."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

Transport = Literal["plain", "xet"]


class RestartScreen(ModalScreen[Transport | None]):
    """Dismisses with the transport to restart over, or None to keep the download as it is."""

    BINDINGS = [
        Binding("h,y", "answer('plain')", "Plain HTTP", show=False),
        Binding("x", "answer('xet')", "Xet", show=False),
        Binding("n,escape", "answer(None)", "Keep", show=False),
    ]

    def __init__(self, body: Text | str, keep: str = "Keep waiting") -> None:
        super().__init__()
        self.body = body
        self.keep_label = keep

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(self.body, id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button("Over plain HTTP (h)", variant="error", compact=True, id="restart-plain")
                yield Button("Over Xet (x)", compact=True, id="restart-xet")
                yield Button(f"{self.keep_label} (n)", compact=True, id="restart-keep")

    def on_mount(self) -> None:
        self.query_one("#confirm-body").border_title = "Restart download"
        self.query_one("#restart-keep", Button).focus()

    @on(Button.Pressed)
    def _answer_button(self, event: Button.Pressed) -> None:
        answers: dict[str | None, Transport | None] = {"restart-plain": "plain", "restart-xet": "xet"}
        self.dismiss(answers.get(event.button.id))

    def action_answer(self, transport: Transport | None) -> None:
        self.dismiss(transport)
