"""The dashboard driven by keys, on caches built by real downloads."""

from __future__ import annotations

import os
import shutil

from huggingface_hub import hf_hub_download, scan_cache_dir
from textual.widgets import DataTable, Input

from tui.core import formatting as fmt
from tui.devhub import demo_cache as demo_cache_builder
from tui.screens.help import HelpScreen
from tui.screens.warnings import WarningsScreen
from tui.widgets.cache.pane import CachePane

from .helpers import app_for, plain, table_rows, wait_for


async def _started(pilot):
    await wait_for(pilot, lambda: pilot.app.dashboard.monitor.scans >= 1, what="the first scan")
    await pilot.pause()


async def test_repo_rows_and_totals_match_huggingface_hub(demo_cache):
    reference = scan_cache_dir(demo_cache)
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        rows = dict(table_rows(app))
        assert set(rows) == {r.cache_id for r in reference.repos}
        for repo in reference.repos:
            cells = rows[repo.cache_id]
            assert cells[0] == repo.repo_type and cells[1] == repo.repo_id
            assert cells[2] == fmt.size(repo.size_on_disk)
            assert cells[3] == str(repo.nb_files) and cells[4] == str(len(repo.revisions))
        totals = plain(app.query_one("#cache-totals"))
        assert fmt.size(reference.size_on_disk) in totals
        assert "1 partial download" in totals and fmt.size(reference.incomplete_size_on_disk) in totals
        assert "1 warning" in totals
        # Largest first by default.
        sizes = [r.size_on_disk for r in sorted(reference.repos, key=lambda r: -r.size_on_disk)]
        assert [cells[2] for _, cells in table_rows(app)] == [fmt.size(s) for s in sizes]


async def test_sort_keys_and_reversal(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        await pilot.press("n")
        names = [key for key, _ in table_rows(app)]
        assert names == sorted(names, key=str.lower)
        await pilot.press("n")
        assert [key for key, _ in table_rows(app)] == list(reversed(names))
        await pilot.press("s")
        by_size = [k for k, _ in table_rows(app)]
        repos = app.query_one(CachePane).scan.info.repos
        reference = sorted(repos, key=lambda r: (r.size_on_disk, r.cache_id.lower()), reverse=True)
        assert by_size == [r.cache_id for r in reference]
        await pilot.press("s")
        assert [k for k, _ in table_rows(app)] == list(reversed(by_size))
        await pilot.press("u")
        assert "accessed ↓" in plain(app.query_one("#cache-crumb"))
        await pilot.press("t")
        assert "modified ↓" in plain(app.query_one("#cache-crumb"))


async def test_filter_good_bad_and_cleared(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        everything = [k for k, _ in table_rows(app)]
        await pilot.press("slash")
        assert app.query_one("#cache-filter", Input).has_focus
        await pilot.press(*"type=dataset", "enter")
        assert [k for k, _ in table_rows(app)] == ["dataset/hftop-demo/squad-mini"]
        assert app.query_one("#cache-table", DataTable).has_focus
        assert "1 of 6 repos shown" in plain(app.query_one("#cache-totals"))

        await pilot.press("slash", "ctrl+u", *"size>lots")
        error = app.query_one("#cache-filter-error")
        assert error.display and "Invalid value" in plain(error)
        await pilot.press("enter")  # a bad filter is not accepted
        assert app.query_one("#cache-filter", Input).has_focus

        await pilot.press("ctrl+u", *"tiny size>1MB", "enter")
        assert [k for k, _ in table_rows(app)] == ["model/hftop-demo/tiny-bert"]

        await pilot.press("escape")  # at the top level, Esc clears the filter
        assert [k for k, _ in table_rows(app)] == everything


async def test_drill_into_revisions_and_files_and_back(demo_cache, devhub):
    app = app_for(demo_cache)
    v1 = devhub.repos[("model", "hftop-demo/tiny-bert")].refs["v1.0"]
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        table = app.query_one("#cache-table", DataTable)
        table.move_cursor(row=table.get_row_index("model/hftop-demo/tiny-bert"))
        await pilot.press("enter")
        revisions = dict(table_rows(app))
        assert len(revisions) == 2
        assert revisions[v1][1] == "detached"
        assert "tiny-bert" in plain(app.query_one("#cache-crumb"))

        table.move_cursor(row=table.get_row_index(v1))
        await pilot.press("enter")
        files = {cells[0]: cells for _, cells in table_rows(app)}
        assert set(files) == {"config.json", "model.safetensors", "tokenizer.json"}
        f = devhub.file("hftop-demo/tiny-bert", "model.safetensors", revision=v1)
        assert files["model.safetensors"][1] == fmt.size(f.size)
        assert files["model.safetensors"][2].startswith(f.etag[:12])

        await pilot.press("escape")
        assert set(dict(table_rows(app))) == set(revisions)
        assert table.get_row_at(table.cursor_row)  # the cursor is on a real row
        await pilot.press("backspace")
        assert "model/hftop-demo/tiny-bert" in dict(table_rows(app))


async def test_help_lists_every_key(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(f"{key} {what}" for _, rows in app.screen.sections for key, what in rows)
        for words in (
            "Quit",
            "Rescan",
            "Interface",
            "Warnings",
            "filter",
            "sort by size",
            "Next pane",
            "click a column header",
        ):
            assert words in text, words
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_warnings_screen_shows_the_corrupted_repo(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        await pilot.press("w")
        assert isinstance(app.screen, WarningsScreen)
        assert any(demo_cache_builder.CORRUPTED_FOLDER in w for w in app.screen.warnings)
        await pilot.press("escape")
        assert not isinstance(app.screen, WarningsScreen)


async def test_missing_cache_then_it_appears(tmp_path, devhub):
    cache = tmp_path / "hub"
    app = app_for(cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        empty = app.query_one("#cache-empty")
        assert empty.display and str(cache) in plain(empty)
        assert not app.query_one("#cache-table").display
        await pilot.app.workers.wait_for_complete()
        # Downloaded by another program while hftop runs: the pane notices by itself.
        hf_hub_download("hftop-demo/chat-space", "app.py", repo_type="space", cache_dir=cache, endpoint=devhub.endpoint)
        await wait_for(pilot, lambda: "space/hftop-demo/chat-space" in dict(table_rows(app)), what="auto rescan")
        assert not empty.display


async def test_changes_are_picked_up_without_a_full_scan_every_tick(demo_cache):
    app = app_for(demo_cache, refresh=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        await pilot.pause(1.0)
        assert app.dashboard.monitor.scans == 1, "nothing changed: no rescan"
        shutil.rmtree(demo_cache / "models--hftop-demo--whisper-small")
        await wait_for(pilot, lambda: "model/hftop-demo/whisper-small" not in dict(table_rows(app)), what="rescan")
        assert app.dashboard.monitor.scans == 2
        await pilot.press("r")
        await wait_for(pilot, lambda: app.dashboard.monitor.scans == 3, what="manual rescan")


async def test_repo_vanishing_while_open_goes_back_to_the_list(demo_cache):
    app = app_for(demo_cache, refresh=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        table = app.query_one("#cache-table", DataTable)
        table.move_cursor(row=table.get_row_index("model/hftop-demo/llama-mini"))
        await pilot.press("enter")
        assert app.query_one(CachePane).location.repo == "model/hftop-demo/llama-mini"
        shutil.rmtree(demo_cache / "models--hftop-demo--llama-mini")
        await wait_for(pilot, lambda: app.query_one(CachePane).location.repo is None, what="back to the list")
        assert "model/hftop-demo/llama-mini" not in dict(table_rows(app))


async def test_mark_review_delete_frees_what_it_announced(demo_cache):
    from textual.widgets import Static

    from tui.screens.confirm import ConfirmScreen

    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        table = app.query_one("#cache-table", DataTable)
        table.focus()
        reference = scan_cache_dir(demo_cache)
        whisper = next(r for r in reference.repos if r.repo_id == "hftop-demo/whisper-small")
        expected = reference.delete_revisions(*(r.commit_hash for r in whisper.revisions)).expected_freed_size
        table.move_cursor(row=table.get_row_index(whisper.cache_id))
        await pilot.press("space")
        await wait_for(pilot, lambda: app.dashboard.cache_pane.will_free is not None, what="the will-free figure")
        totals = plain(app.query_one("#cache-totals"))
        assert f"1 marked, will free {fmt.size(expected)}" in totals
        assert dict(table_rows(app))[whisper.cache_id][1] == "● hftop-demo/whisper-small"

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the review")
        review = plain(app.screen.query_one("#confirm-text", Static))
        assert "model/hftop-demo/whisper-small (whole repo)" in review and fmt.size(expected) in review
        await pilot.press("y")
        await wait_for(pilot, lambda: not whisper.repo_path.exists(), what="the deletion")
        await wait_for(pilot, lambda: whisper.cache_id not in dict(table_rows(app)), what="the rescan")
        assert not app.dashboard.cache_pane.marks


async def test_read_only_refuses_to_delete(demo_cache):
    app = app_for(demo_cache, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        app.query_one("#cache-table", DataTable).focus()
        for key in ("space", "d", "P"):
            await pilot.press(key)
            await pilot.pause(0.5)
            assert app.screen is app.screen_stack[0], f"{key} opened {app.screen}"
        assert any("read-only" in str(n.message) for n in app._notifications)
        assert app.dashboard.cache_pane.marks, "marking is not deleting: it stays allowed"


async def test_prune_reviews_then_deletes_what_nothing_uses(demo_cache):
    import os

    from textual.widgets import Static

    from tui.screens.confirm import ConfirmScreen

    # The demo's orphan was written moments ago; age it past the quiet minute.
    [orphan] = demo_cache.glob("*/blobs/*.incomplete")
    os.utime(orphan, (0, 0))
    detached = [r for repo in scan_cache_dir(demo_cache).repos for r in repo.revisions if not r.refs]
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        app.query_one("#cache-table", DataTable).focus()
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the prune review")
        review = plain(app.screen.query_one("#confirm-text", Static))
        assert "(detached)" in review and "partial file of a dead download" in review and "nobody holds" in review
        await pilot.press("y")
        await wait_for(pilot, lambda: not orphan.exists(), what="the prune")
        await wait_for(pilot, lambda: not any(r.snapshot_path.exists() for r in detached), what="detached revisions")


async def test_verify_a_repo_then_mark_its_mismatch(demo_cache):
    from textual.widgets import Static

    from tui.screens.verify import VerifyScreen

    # Damage one blob of whisper-small in place, as a bad disk or an interrupted copy would.
    repo = next(r for r in scan_cache_dir(demo_cache).repos if r.repo_id == "hftop-demo/whisper-small")
    damaged = next(f for rev in repo.revisions for f in rev.files if f.file_name == "model.safetensors")
    with open(damaged.blob_path, "r+b") as f:
        f.write(b"\0" * 16)
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        table = app.query_one("#cache-table", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index(repo.cache_id))
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyScreen), what="the verify screen")
        await wait_for(pilot, lambda: app.screen.result is not None, what="the check")
        shown = plain(app.screen.query_one("#verify-result", Static))
        assert "MISMATCH model.safetensors" in shown and "config.json" not in shown
        await pilot.press("m")
        await wait_for(pilot, lambda: app.dashboard.cache_pane.marks, what="the mark")
        [mark] = app.dashboard.cache_pane.marks
        assert mark.file == str(damaged.file_path)


async def test_the_totals_partial_bytes_follow_the_files_without_a_rescan(demo_cache):
    """A partial file grows between two scans: the totals line says so at the next refresh."""
    from tui.probes.partials import find_partials

    (orphan,) = find_partials(demo_cache)
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await _started(pilot)
        scans = app.dashboard.monitor.scans
        with open(orphan.path, "ab") as f:
            f.write(os.urandom(3_000_000))
        (grown,) = find_partials(demo_cache)
        assert grown.real_bytes > orphan.real_bytes
        totals = app.query_one("#cache-totals")
        expected = f"1 partial download ({fmt.size(grown.real_bytes)})"
        await wait_for(pilot, lambda: expected in plain(totals), what="the new size")
        assert app.dashboard.monitor.scans == scans, "no rescan needed"
