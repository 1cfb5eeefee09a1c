"""`w`: the cache's warnings, one per corrupted repo folder, as huggingface_hub reported them; `d`
reviews and deletes the highlighted one's folder (the dashboard's cache flows do the deleting)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class CacheWarning:
    text: str
    """huggingface_hub's words."""
    folder: Path | None
    """The repo folder (a child of the cache folder) the warning is about; None when it names none."""


def corrupted_folder(warning: str, cache_dir: Path) -> Path | None:
    """The cache's child folder a scan warning names, from its text alone (no file is looked at)."""
    for root in dict.fromkeys((str(cache_dir), os.path.realpath(cache_dir))):
        head = root.rstrip("/") + "/"
        start = warning.find(head)
        if start >= 0:
            name = warning[start + len(head) :].split("/", 1)[0].split()[0].rstrip(".:,'\")")
            if name and name not in (".", ".."):
                return Path(root) / name
    return None


class WarningsScreen(ModalScreen[Path | None]):
    """Dismisses with the folder to review for deletion (`d`), else None."""

    BINDINGS = [
        Binding("escape,q,w", "dismiss(None)", "Close"),
        Binding("d", "delete", "Delete folder…"),
    ]

    def __init__(self, warnings: list[CacheWarning]) -> None:
        super().__init__()
        self.warnings = [w.text for w in warnings]
        """huggingface_hub's words, one per corrupted folder."""
        self.entries = warnings

    def compose(self) -> ComposeResult:
        with Vertical(id="warnings-body"):
            if not self.entries:
                yield Static("The last scan found nothing wrong with the cache.")
            else:
                yield OptionList(
                    *(Option(Text.assemble(("• ", "bold red"), w.text), id=str(i)) for i, w in enumerate(self.entries)),
                    id="warnings-list",
                )
                yield Static(
                    Text(
                        "Repos with warnings are left out of the list and the totals: huggingface_hub cannot read "
                        "them. Deleting the folder is the usual fix: d shows what it deletes and asks first; a "
                        "download run again fetches the repo anew.",
                        style="dim",
                    ),
                    id="warnings-note",
                )

    def on_mount(self) -> None:
        body = self.query_one("#warnings-body")
        body.border_title = f"Cache warnings ({len(self.entries)})"
        keys = "↑↓ choose · d delete the folder… · Esc closes" if self.entries else "Esc closes"
        body.border_subtitle = keys
        if self.entries:
            self.query_one("#warnings-list", OptionList).focus()

    def action_delete(self) -> None:
        if not self.entries:
            self.notify("Nothing to delete: the cache has no warnings.", timeout=3)
            return
        index = self.query_one("#warnings-list", OptionList).highlighted
        entry = self.entries[index if index is not None else 0]
        if entry.folder is None:
            self.notify("This warning names no folder of the cache: hftop leaves it alone.", timeout=5)
            return
        self.dismiss(entry.folder)
