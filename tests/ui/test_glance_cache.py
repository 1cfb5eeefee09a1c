"""The cache pane read at a glance (issue 15): the filter applied on Enter with errors in words, the
cursor back where it was after Esc, size bars, and the corrupted folder deleted from `w`."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from tui.widgets.cache.pane import filter_problem

from .helpers import app_for, plain, table_rows, wait_for


async def _started(pilot):
    await wait_for(pilot, lambda: pilot.app.dashboard.monitor.scans >= 1, what="the first scan")
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
async def test_the_filter_applies_on_enter_and_keeps_the_last_good_one(demo_cache, size):
    app = app_for(demo_cache)
    async with app.run_test(size=size) as pilot:
        await _started(pilot)
        everything = [k for k, _ in table_rows(app)]
        await pilot.press("slash", *"type=dataset")
        assert [k for k, _ in table_rows(app)] == everything, "nothing applies while typing"
        await pilot.press("enter")
        assert [k for k, _ in table_rows(app)] == ["dataset/hftop-demo/squad-mini"]
        assert app.query_one("#cache-table", DataTable).has_focus
        assert "type=dataset" in plain(app.query_one("#cache-crumb"))

        # A bad filter is explained in words and not applied: the last good one stays in force.
        await pilot.press("slash", "ctrl+u", *"size>lots", "enter")
        error = app.query_one("#cache-filter-error")
        assert error.display and "a size needs a number and a unit, like size>1GB" in plain(error)
        assert "\\d" not in plain(error) and "pattern" not in plain(error)
        assert app.query_one("#cache-filter", Input).has_focus
        assert [k for k, _ in table_rows(app)] == ["dataset/hftop-demo/squad-mini"]
        await pilot.press("escape")  # leaves the box, the filter as it was
        assert [k for k, _ in table_rows(app)] == ["dataset/hftop-demo/squad-mini"]
        assert not app.query_one("#cache-filter", Input).display

        await pilot.press("slash", "ctrl+u", *"tiny", "enter")
        assert [k for k, _ in table_rows(app)] == ["model/hftop-demo/tiny-bert"]
        await pilot.press("escape")  # at the top level, Esc clears the filter
        assert [k for k, _ in table_rows(app)] == everything
        await pilot.pause()
        assert not app.query_one("#cache-filter-error").display, "no hint is left under a closed box"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("size>lots", "a size needs a number and a unit, like size>1GB"),
        ("size>1.5GB", "whole numbers"),
        ("accessed>3x", "a number and a unit of time, like accessed>30d"),
        ("colour=red", "the keys are size, accessed, modified, type and refs"),
        ("type>model", "type only takes '='"),
        ("type=bert", "type=model, type=dataset or type=space"),
        (">5", "needs a key in front"),
        ("size>", "needs a value after it"),
    ],
    ids=["size-unit", "size-decimal", "time-unit", "unknown-key", "type-operator", "type-value", "no-key", "no-value"],
)
def test_filter_errors_read_as_words(text, words):
    assert words in (filter_problem(text) or "")


@pytest.mark.parametrize("text", ["", "tiny", "size>1GB", "tiny size>1MB", "accessed>30d type=model", "refs=main"])
def test_good_filters_have_no_problem(text):
    assert filter_problem(text) is None


async def test_esc_puts_the_cursor_back_on_the_repo_and_revision_left(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        table = app.query_one("#cache-table", DataTable)
        repo = "model/hftop-demo/tiny-bert"
        table.move_cursor(row=table.get_row_index(repo))
        assert table.cursor_row != 0, "not the first row, or the test proves nothing"
        await pilot.press("enter")
        table.move_cursor(row=1)
        revision = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        await pilot.press("enter")
        assert app.dashboard.cache_pane.location.level == "files"
        await pilot.press("escape")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == revision
        await pilot.press("escape")
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == repo


async def test_warnings_are_framed_and_d_deletes_the_corrupted_folder_after_asking(demo_cache):
    from tui.devhub.demo_cache import CORRUPTED_FOLDER
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.warnings import WarningsScreen

    folder = demo_cache / CORRUPTED_FOLDER
    assert folder.is_dir()
    before = sorted(p.name for p in demo_cache.iterdir())
    app = app_for(demo_cache)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot)
        await pilot.press("w")
        assert isinstance(app.screen, WarningsScreen)
        body = app.screen.query_one("#warnings-body")
        assert body.styles.border_top[0] != "" and app.screen.region.contains_region(body.region)
        assert "d delete" in str(body.border_subtitle)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the review")
        assert str(folder) in plain(app.screen.query_one("#confirm-text"))
        await pilot.press("n")  # kept
        await pilot.pause(0.2)
        assert folder.is_dir()
        await pilot.press("w", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the review")
        await pilot.press("y")
        await wait_for(pilot, lambda: not folder.exists(), what="the folder to go")
        assert sorted(p.name for p in demo_cache.iterdir()) == sorted(set(before) - {CORRUPTED_FOLDER})
        await wait_for(pilot, lambda: "warning" not in plain(app.query_one("#cache-totals")), what="the rescan")


async def test_the_help_is_framed_and_its_last_section_reachable(demo_cache):
    from tui.screens.help import HelpScreen

    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-body")
        await pilot.pause()
        assert body.styles.border_top[0] != ""
        assert app.screen.region.contains_region(body.region), "the frame fits the screen"
        await pilot.press("end")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, what="the end of the help")
        assert "Esc" in str(body.border_subtitle)


async def test_verify_says_when_it_is_done(demo_cache):
    from tui.screens.verify import VerifyScreen

    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        table = app.query_one("#cache-table", DataTable)
        table.move_cursor(row=table.get_row_index("model/hftop-demo/tiny-bert"))
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen), what="the check")
        screen = app.screen
        await wait_for(pilot, lambda: screen.result is not None, what="the check to end")
        await pilot.pause()
        assert plain(screen.query_one("#verify-what")).startswith("Done")
        assert not screen.query_one("#eta").display, "no --:--:-- countdown once done"
        assert "done" in str(screen.query_one("#verify-body").border_title)
