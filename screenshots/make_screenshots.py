"""Drive the real app on fixed demo data and save the SVGs the README shows.

    python screenshots/make_screenshots.py

Uses the devhub (loopback, no network) to build the cache by real downloads, pins every
timestamp, and feeds scripted network counters, so the pictures change only when the UI does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import DataTable

from tui.app import Sources, make_app
from tui.devhub.fixed_data import build_fixed_cache, fixed_disk, frozen_clock, scripted_counters, settle
from tui.devhub.server import DevHub
from tui.settings import Settings

HERE = Path(__file__).resolve().parent


async def open_tiny_bert(pilot) -> None:
    await settle(pilot)
    table = pilot.app.query_one("#cache-table", DataTable)
    table.move_cursor(row=table.get_row_index("model/hftop-demo/tiny-bert"))
    await pilot.press("enter")


async def filter_models(pilot) -> None:
    await settle(pilot)
    await pilot.press("slash", *"type=model size>10MB", "enter")


async def open_help(pilot) -> None:
    await settle(pilot, 0)
    await pilot.press("question_mark")


SHOTS = [
    ("dashboard", (120, 36), settle),
    ("cache-revisions", (120, 36), open_tiny_bert),
    ("cache-filter", (120, 36), filter_models),
    ("help", (120, 36), open_help),
    ("narrow-80x24", (80, 24), settle),
]


async def shoot(cache: Path) -> None:
    for name, size, prepare in SHOTS:
        settings = Settings(cache_dir=cache, endpoint="https://huggingface.co", refresh=3600)
        app = make_app(settings, Sources(clock=frozen_clock, counters=scripted_counters(), disk=fixed_disk))
        async with app.run_test(size=size) as pilot:
            await prepare(pilot)
            await pilot.pause()
            path = app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
            print(path)


def main() -> None:
    with DevHub() as hub:
        cache = build_fixed_cache(hub.endpoint)
    asyncio.run(shoot(cache))


if __name__ == "__main__":
    main()
