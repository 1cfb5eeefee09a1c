"""One snapshot per pane and dialog, on fixed data and a frozen clock."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tui.app import make_app
from tui.devhub.fixed_data import FIXED_CACHE, build_fixed_cache, fixed_disk, frozen_clock, scripted_counters, settle
from tui.monitor.monitor import Sources
from tui.settings import Settings

SIZE = (120, 36)


@pytest.fixture(scope="module")
def fixed_cache(devhub):
    return build_fixed_cache(devhub.endpoint)


def fixed_app(cache):
    settings = Settings(cache_dir=cache, endpoint="https://huggingface.co", refresh=3600)
    return make_app(settings, Sources(clock=frozen_clock, counters=scripted_counters(), disk=fixed_disk))


def test_dashboard(snap_compare, fixed_cache):
    assert snap_compare(fixed_app(fixed_cache), terminal_size=SIZE, run_before=settle)


def test_cache_revisions(snap_compare, fixed_cache):
    async def open_repo(pilot):
        await settle(pilot, network_samples=0)
        table = pilot.app.query_one("#cache-table", DataTable)
        table.move_cursor(row=table.get_row_index("model/hftop-demo/tiny-bert"))
        await pilot.press("enter")

    assert snap_compare(fixed_app(fixed_cache), terminal_size=SIZE, run_before=open_repo)


def test_cache_files_sorted_by_name(snap_compare, fixed_cache):
    async def open_files(pilot):
        await settle(pilot, network_samples=0)
        table = pilot.app.query_one("#cache-table", DataTable)
        table.move_cursor(row=table.get_row_index("model/hftop-demo/tiny-bert"))
        await pilot.press("enter")
        table.move_cursor(row=0)
        await pilot.press("enter", "n")

    assert snap_compare(fixed_app(fixed_cache), terminal_size=SIZE, run_before=open_files)


def test_cache_filter_error(snap_compare, fixed_cache):
    async def bad_filter(pilot):
        await settle(pilot, network_samples=0)
        await pilot.press("slash", *"size>lots")

    assert snap_compare(fixed_app(fixed_cache), terminal_size=SIZE, run_before=bad_filter)


def test_missing_cache(snap_compare, tmp_path_factory):
    missing = FIXED_CACHE.parent / "not-created"
    assert snap_compare(fixed_app(missing), terminal_size=SIZE, run_before=lambda p: settle(p, 0))


def test_help(snap_compare, fixed_cache):
    async def open_help(pilot):
        await settle(pilot, network_samples=0)
        await pilot.press("question_mark")

    assert snap_compare(fixed_app(fixed_cache), terminal_size=SIZE, run_before=open_help)


def test_narrow_terminal(snap_compare, fixed_cache):
    assert snap_compare(fixed_app(fixed_cache), terminal_size=(80, 24), run_before=settle)
