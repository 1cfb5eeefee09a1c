"""A question with a few answers, each on a button with its key: how to restart a download, whether a
cancel keeps the bytes downloaded so far."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


@dataclass(frozen=True)
class Choice:
    answer: str | None
    """What the screen dismisses with; None: leave things as they are."""
    label: str
    keys: str
    """The keys that choose it, comma-separated; the first is shown on the button."""
    variant: str = "default"


class ChoiceScreen(ModalScreen[str | None]):
    """Dismisses with the chosen answer; Esc and the last choice (the one that changes nothing, focused
    at first) give None."""

    BINDINGS = [Binding("escape", "answer(None)", "Leave it", show=False)]

    def __init__(self, title: str, body: Text | str, choices: tuple[Choice, ...]) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(self.body, id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                for i, choice in enumerate(self.choices):
                    label = f"{choice.label} ({choice.keys.split(',')[0]})"
                    yield Button(label, variant=choice.variant, compact=True, id=f"choice-{i}")  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one("#confirm-body").border_title = self.title_text
        self.query_one(f"#choice-{len(self.choices) - 1}", Button).focus()

    def on_key(self, event: events.Key) -> None:
        for choice in self.choices:
            if event.key in choice.keys.split(","):
                event.stop()
                self.dismiss(choice.answer)
                return

    @on(Button.Pressed)
    def _answer_button(self, event: Button.Pressed) -> None:
        self.dismiss(self.choices[int((event.button.id or "choice-0").split("-")[1])].answer)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)
