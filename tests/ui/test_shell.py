"""The shell around the panes: focus, resize, the network pane, and staying responsive while scanning."""

from __future__ import annotations

import asyncio
import time

from textual import events
from textual.widgets import DataTable

from tui.core.throughput import ALL
from tui.devhub.synthetic import build_synthetic_cache
from tui.screens.help import HelpScreen
from tui.widgets.network_pane import NetworkPane

from .helpers import app_for, plain, wait_for


def _visible(app, selector) -> bool:
    widget = app.query_one(selector)
    region = widget.region
    screen = app.screen.region
    return widget.display and region.width > 10 and region.height >= 3 and screen.contains_region(region)


async def test_three_panes_and_status_line_at_120x36(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.monitor.scans >= 1)
        for selector in ("#downloads", "#cache", "#network"):
            assert _visible(app, selector), selector
        status = plain(app.query_one("#status"))
        # The scheme gives way before the middle of the cache folder: with a long temporary path
        # (pytest-of-root/pytest-83/…) the endpoint reads huggingface.co.
        assert str(demo_cache).split("/")[-1] in status and "huggingface.co" in status
        await wait_for(pilot, lambda: "free " in plain(app.query_one("#status")), what="free space")
        assert "No downloads yet" in plain(app.query_one("#downloads-empty"))


async def test_layout_stays_usable_down_to_80x24(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.monitor.scans >= 1)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.screen.has_class("-narrow")
        for selector in ("#downloads", "#cache", "#network"):
            assert _visible(app, selector), selector
        table = app.query_one("#cache-table", DataTable)
        assert table.region.height >= 5, "room for several repo rows"
        await pilot.press("n")
        assert "name ↑" in plain(app.query_one("#cache-crumb"))
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert not app.screen.has_class("-narrow")


async def test_tab_moves_between_panes(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.monitor.scans >= 1)
        await wait_for(pilot, lambda: app.dashboard.snapshot.others, what="the demo cache's orphaned partial")
        seen = []
        for _ in range(3):
            await pilot.press("tab")
            focused = app.focused
            seen.append(next(a.id for a in focused.ancestors_with_self if a.id in ("downloads", "cache", "network")))
        assert sorted(seen) == ["cache", "downloads", "network"]


async def test_network_pane_samples_and_cycles_interfaces(demo_cache):
    app = app_for(demo_cache, refresh=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.query_one(NetworkPane)
        await wait_for(pilot, lambda: pane.view is not None and pane.view.rx_now is not None, what="two samples")
        assert pane.view.interface == ALL
        interfaces = pane.view.interfaces
        assert "lo" in interfaces
        for expected in (*interfaces[1:], ALL):
            await pilot.press("i")
            assert pane.view.interface == expected
        assert "Network" in str(pane.border_title)


async def test_keys_answer_while_a_large_cache_is_scanned(tmp_path):
    cache = tmp_path / "hub"
    build_synthetic_cache(cache, files=100_000)  # a scan of a few seconds, even on a fast machine
    app = app_for(cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await asyncio.sleep(0.3)
        assert app.dashboard._cache_worker is not None and app.dashboard._cache_worker.is_running
        # Pilot.press would wait for the app to be idle, workers included; a user's key does not.
        app.post_message(events.Key("question_mark", "?"))
        started = time.monotonic()
        while not isinstance(app.screen, HelpScreen) and time.monotonic() - started < 5:
            await asyncio.sleep(0.01)
        answered = time.monotonic() - started
        assert isinstance(app.screen, HelpScreen)
        assert app.dashboard.monitor.scans == 0, "the scan is still running"
        assert answered < 0.5, answered
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.dashboard.monitor.scans == 1, timeout=60, what="the scan to finish")
        totals = app.query_one("#cache-totals")
        # The totals line is drawn from the scan's snapshot a moment after the scan counts as done.
        await wait_for(
            pilot, lambda: "200 repos" in plain(totals), timeout=10, what="200 repos", show=lambda: plain(totals)
        )


async def test_mouse_focuses_sorts_and_opens(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.monitor.scans >= 1)
        await pilot.click("#network")
        assert app.focused is app.query_one("#network")
        table = app.query_one("#cache-table", DataTable)
        # Header "Size" is the third column; click it: size order reverses (ascending).
        size_x = sum(col.get_render_width(table) for col in list(table.columns.values())[:2]) + 2
        await pilot.click("#cache-table", offset=(size_x, 0))
        assert "size ↑" in plain(app.query_one("#cache-crumb"))
        # The first click on a row highlights it, a second click opens it.
        await pilot.click("#cache-table", offset=(3, 1))
        assert table.cursor_row == 0 and app.query_one("#cache").location.repo is None
        await pilot.click("#cache-table", offset=(3, 1))
        assert app.query_one("#cache").location.level == "revisions"


async def test_focus_stays_in_the_downloads_pane_when_its_first_row_arrives(tmp_path):
    app = app_for(tmp_path / "hub")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.monitor.scans >= 1)
        pane = app.dashboard.downloads_pane
        pane.focus()
        await pilot.pause()
        blobs = tmp_path / "hub" / "models--org--name" / "blobs"
        blobs.mkdir(parents=True)
        (blobs / ("ab" * 32 + ".0badcafe.incomplete")).write_bytes(b"x" * 1000)
        await wait_for(pilot, lambda: app.dashboard.snapshot.others, what="the partial file")
        await pilot.pause()
        assert app.focused is pane.table


async def test_the_help_scrolls_with_keys(tmp_path):
    app = app_for(tmp_path / "hub")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        body = app.screen.query_one("#help-body")
        await pilot.pause()
        assert body.max_scroll_y > 0, "at 80x24 the help is longer than the screen"
        await pilot.press("end")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, what="the end of the help")
        await pilot.press("home")
        await wait_for(pilot, lambda: body.scroll_y == 0, what="the top again")


async def test_home_and_end_go_to_the_first_and_last_row(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.dashboard.cache_pane.query_one("#cache-table")
        await wait_for(pilot, lambda: table.row_count > 3, what="the cache's repos")
        table.focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: table.cursor_row == table.row_count - 1, what="the last row")
        await pilot.press("home")
        await wait_for(pilot, lambda: table.cursor_row == 0, what="the first row")
