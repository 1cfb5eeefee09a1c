"""A yes/no question before an action that loses something (bytes downloaded, a running process)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True when the user confirms (`y`, Enter on the confirm button), else False."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, body: Text | str, confirm: str, keep: str = "Keep going") -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm
        self.keep_label = keep

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(self.body, id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="error", compact=True, id="confirm-yes")
                yield Button(f"{self.keep_label} (n)", compact=True, id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-body").border_title = self.title_text
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _answer_button(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
