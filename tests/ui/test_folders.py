"""The folders pane driven by keys: the xet folder and the datasets cache in the hub cache's place (f), marks
on Arrow caches, the reviewed cleanup, and a live process's mapped Arrow cache that never goes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tui.devhub.demo_folders import lay_out_folders
from tui.screens.confirm import ConfirmScreen
from tui.widgets.folders.pane import FoldersPane

from .helpers import app_for, plain, wait_for

MAP_FILE = """
import mmap, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
f.close()
print("mapped", flush=True)
time.sleep(600)
"""


@pytest.fixture
def folders(tmp_path, monkeypatch) -> tuple[Path, Path]:
    xet, datasets = tmp_path / "xet", tmp_path / "datasets"
    lay_out_folders(xet, datasets)
    (datasets / "README.txt").write_text("notes of the user's own")  # an "other files" row beside "lock files"
    monkeypatch.setenv("HF_XET_CACHE", str(xet))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(datasets))
    return xet, datasets


@pytest.fixture
def mapped(folders):
    """A live process with the squad Arrow file memory-mapped, as a training job that loaded it has."""
    (arrow,) = folders[1].glob("hftop-demo___squad-mini/*/*/*/*.arrow")
    proc = subprocess.Popen([sys.executable, "-c", MAP_FILE, str(arrow)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "mapped"
    yield arrow.parent, proc.pid
    proc.kill()
    proc.wait()


def _rows(app) -> dict[str, list[str]]:
    table = app.query_one("#folders-table", DataTable)
    return {k.value: [str(getattr(c, "plain", c)).strip() for c in table.get_row(k)] for k in table.rows}


async def _folders_shown(pilot):
    await pilot.press("f")
    pane = pilot.app.query_one(FoldersPane)
    await wait_for(pilot, lambda: pane.folders is not None and _rows(pilot.app), what="the folders")
    return pane


async def _move_to(pilot, key: str) -> None:
    table = pilot.app.query_one("#folders-table", DataTable)
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()


async def test_f_shows_both_folders_by_part_and_marks_go_only_on_arrow_caches(demo_cache, folders, mapped):
    xet, datasets = folders
    in_use, pid = mapped
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = await _folders_shown(pilot)
        assert not app.query_one("#cache").display and pane.display
        rows = _rows(app)
        used = f"arrow:{in_use}"
        assert rows[used][4] == f"PID {pid}" and f"in use by PID {pid}" in rows[used][5]
        chunk = next(k for k in rows if k.endswith("chunk-cache"))
        assert rows[chunk][2] == "18.0 MB" and rows[chunk][5].startswith("frees 18.0 MB")
        totals = plain(app.query_one("#folders-totals"))
        assert "xet folder" in totals and "datasets cache" in totals and "cleanup frees" in totals
        await _move_to(pilot, chunk)
        await pilot.press("space")
        assert not pane.marks, "the chunk cache goes by the rules, not by a mark"
        free = next(k for k in rows if "csv/default" in rows[k][1])
        for key in (free, used):
            await _move_to(pilot, key)
            await pilot.press("space")
        assert pane.marks == {free, used}
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the review")
        review = plain(app.screen.query_one("#confirm-text"))
        assert "kept" in review and f"in use by PID {pid}" in review and "csv/default" in review
        await pilot.press("y")
        await wait_for(pilot, lambda: not Path(free.removeprefix("arrow:")).exists(), what="the marked cache to go")
        await wait_for(pilot, lambda: not pane.marks and free not in _rows(app), what="the pane to follow")
        assert in_use.is_dir(), "the mapped cache stays"
        assert (xet / "https___cas-server_xethub_hf_co-5mVjZDq2jM3fiSdP" / "chunk-cache").is_dir(), "d takes marks only"
        await pilot.press("f")
        assert app.query_one("#cache").display and not pane.display


async def test_p_cleans_up_what_the_rules_offer_and_nothing_in_use(demo_cache, folders, mapped):
    xet, datasets = folders
    in_use, _ = mapped
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _folders_shown(pilot)
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the review")
        review = plain(app.screen.query_one("#confirm-text"))
        assert "xet: logs" in review and "chunk-cache" in review and "datasets: downloads" in review
        await pilot.press("y")
        left = lambda: {p.name for p in (datasets / "downloads").rglob("*")}  # noqa: E731
        await wait_for(pilot, lambda: left() == {"extracted"}, what="the downloads and extracted archives to go")
        assert not list(xet.glob("*/chunk-cache")) and not list((xet / "logs").iterdir())
        assert list(xet.glob("*/shard-cache")), "hf_xet's bounded shard cache is never offered"
        assert in_use.is_dir() and len(list(datasets.glob("*/*/*/*/*.arrow"))) == 2, "Arrow caches go by marks only"


async def test_read_only_cleans_up_nothing(demo_cache, folders):
    app = app_for(demo_cache, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await _folders_shown(pilot)
        await pilot.press("P")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)
        assert (folders[1] / "downloads").is_dir() and any((folders[1] / "downloads").iterdir())


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_folders_pane_at_small_sizes(demo_cache, folders, size):
    app = app_for(demo_cache)
    async with app.run_test(size=size) as pilot:
        await pilot.press("f")
        await pilot.pause(1.0)
        for key in ("down", "space", "d", "escape", "P", "escape", "f", "f"):
            await pilot.press(key)
            await pilot.pause(0.1)
        assert app.is_running


async def test_no_folders_yet_says_where_they_would_be(demo_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "none-xet"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "none-datasets"))
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = await _folders_shown_empty(pilot)
        assert "Nothing here yet" in plain(pane.query_one("#folders-empty"))
        assert "neither folder exists yet" in plain(pane.query_one("#folders-totals"))
        await pilot.press("P")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)


async def _folders_shown_empty(pilot):
    await pilot.press("f")
    pane = pilot.app.query_one(FoldersPane)
    await wait_for(pilot, lambda: pane.folders is not None, what="the folders")
    await pilot.pause()
    return pane
