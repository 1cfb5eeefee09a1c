"""The footer: the keys that fit, the most useful first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup  # Textual's own footer parts

FOOTER_PRIORITY = {
    "app.quit": 0,
    "app.help": 0,
    "cancel": 1,
    "retry": 1,
    "select_cursor": 2,
    "filter": 3,
    "add_download": 3,
    "mark": 4,
    "delete": 4,
    "sort": 5,
    "warnings": 6,
    "verify": 6,
    "prune": 7,
    "mirrors": 7,
    "show_cache": 8,
    "rescan": 8,
    "next_interface": 9,
}
"""Which keys the footer keeps when not all fit (lower first); the help (`?`) and the palette list them all."""


class FittingFooter(Footer):
    """Textual's footer, showing what fits of the active keys, the most useful first, in their own order.
    (Textual's own footer shows them all and lets the terminal cut the end: Quit and Help went first.)"""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width = 0

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            self.call_after_refresh(self.recompose)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        items: dict[object, list[tuple[Binding, bool, str]]] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show:
                # Bindings of one group (the sort keys) make one item; the others one item an action.
                items.setdefault(binding.group or binding.action, []).append((binding, enabled, tooltip))

        def rank(entry: tuple[int, object]) -> tuple[int, int]:
            action = items[entry[1]][0][0].action.split("(")[0]
            return FOOTER_PRIORITY.get(action, 5), entry[0]

        def width(bindings: list[tuple[Binding, bool, str]]) -> int:
            binding = bindings[0][0]
            if binding.group is not None and len(bindings) > 1:
                keys = sum(len(self.app.get_key_display(b)) for b, _, _ in bindings) + len(bindings) - 1
                return keys + len(binding.group.description) + 3
            return len(self.app.get_key_display(binding)) + len(binding.description) + 2

        room = self.size.width - (13 if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE else 0)
        kept: set[object] = set()
        for _, key in sorted(enumerate(items), key=rank):
            need = width(items[key])
            if need <= room:
                kept.add(key)
                room -= need
        for key, bindings in items.items():
            if key not in kept:
                continue
            binding = bindings[0][0]
            if binding.group is not None and len(bindings) > 1:
                with KeyGroup(classes="-compact"):
                    for b, enabled, tooltip in bindings:
                        yield FooterKey(
                            b.key,
                            self.app.get_key_display(b),
                            "",
                            b.action,
                            disabled=not enabled,
                            tooltip=tooltip or b.description,
                            classes="-grouped",
                        ).data_bind(compact=Footer.compact)
                yield FooterLabel(binding.group.description)
            else:
                b, enabled, tooltip = bindings[0]
                yield FooterKey(
                    b.key, self.app.get_key_display(b), b.description, b.action, disabled=not enabled, tooltip=tooltip
                ).data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                _, binding, enabled, _ = palette
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )
