"""Small helpers shared by the panes' DataTables."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

ROW_KEYS = [
    Binding("home", "scroll_top", "First row", show=False),
    Binding("end", "scroll_bottom", "Last row", show=False),
]
"""Home and End go to the first and last row (DataTable's own scroll sideways, which a row cursor ignores)."""


def cursor_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None (empty table, or a cursor left stale by a redraw)."""
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # noqa: BLE001 - a stale cursor simply means "no row"
        return None


def right(value: object, width: int, style: str = "") -> Text:
    """Right-aligned text: DataTable does not honour Text.justify in fixed-width columns, so pad."""
    return Text(str(value).rjust(width), style=style)


def plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def middle_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut in the middle with `…` (both ends of a repo id tell it apart)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + text[len(text) - tail :]


def shared_prefix(labels: list[str]) -> str:
    """The `org/` that every label starts with (only when there is one and each has a name after it), else ''."""
    if not labels:
        return ""
    first = labels[0]
    slash = first.rfind("/")
    if slash <= 0:
        return ""
    prefix = first[: slash + 1]
    return prefix if all(label.startswith(prefix) and len(label) > len(prefix) for label in labels) else ""
