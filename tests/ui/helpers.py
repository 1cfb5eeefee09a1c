from __future__ import annotations

import asyncio
import io
import time

from rich.console import Console
from textual.widgets import DataTable

from tui.app import HfTopApp, make_app
from tui.settings import Settings


def app_for(cache_dir, refresh: float = 0.3, **settings) -> HfTopApp:
    return make_app(Settings(cache_dir=cache_dir, endpoint="https://huggingface.co", refresh=refresh, **settings))


async def wait_for(pilot, condition, timeout: float = 20.0, what: str = "condition", show=None) -> None:
    """`show()`: what to print when the wait times out (the state it last saw)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"; last seen: {show()}" if show else ""))
        await pilot.pause(0.05)
        await asyncio.sleep(0)


def table_rows(app) -> list[tuple[str, list[str]]]:
    table = app.query_one("#cache-table", DataTable)
    rows = []
    for row_key in table.rows:
        cells = [str(getattr(c, "plain", c)).strip() for c in table.get_row(row_key)]
        rows.append((row_key.value, cells))
    return rows


def plain(widget) -> str:
    """The widget's text as drawn at its width (a Rich renderable, such as a grid, drawn to plain text)."""
    content = widget.render()
    if hasattr(content, "plain"):
        return str(content.plain)
    console = Console(width=widget.size.width or 100, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(getattr(content, "_renderable", content))
    return captured.get()
