"""Small helpers shared by the panes' DataTables."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable


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
