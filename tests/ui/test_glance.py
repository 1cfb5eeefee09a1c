"""The dashboard read at a glance (issue 15): downloads ordered by severity, a badge in the status
line, repo ids whole or marked where cut, every column a download needs at 80x24, and a notice
under the smallest usable size. On the demo's four live downloads."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tui.app import make_app
from tui.core.downloads import DownloadState
from tui.widgets.downloads.verdict import severity

from .helpers import app_for, plain, wait_for


def _downloads(app) -> list[list[str]]:
    table = app.dashboard.downloads_pane.table
    return [[str(getattr(c, "plain", c)).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]


def _labels(app) -> list[str]:
    return [getattr(row, "request", row).label for row in app.dashboard.snapshot.rows]


def _assert_repo_ids_whole_or_marked(app) -> None:
    pane = app.dashboard.downloads_pane
    title = str(pane.border_title)
    labels = _labels(app)
    prefix = title.split(" is ", 1)[1] if "…/ is " in title else ""
    for row in _downloads(app):
        repo = row[1]
        assert repo in labels or "…" in repo, (repo, title)
        if repo.startswith("…/") and "…" not in repo[1:]:
            assert prefix + repo[2:] in labels, (repo, title)


def _states_in_order(app) -> list[DownloadState]:
    by_value = {s.value: s for s in DownloadState}
    return [by_value[row[0]] for row in _downloads(app)]


async def test_the_demo_at_a_glance_at_120x36_80x24_and_60x20(live_demo):
    app = make_app(live_demo)
    async with app.run_test(size=(120, 36)) as pilot:
        states = lambda: {row.state for row in app.dashboard.snapshot.own}  # noqa: E731
        await wait_for(
            pilot,
            lambda: {DownloadState.STALLED, DownloadState.FAILED} <= states(),
            timeout=90,
            what="a stalled and a failed download",
        )
        await pilot.pause(0.3)
        # The stall's evidence: the devhub holds its connections open and sends nothing.
        snapshot = app.dashboard.snapshot
        stuck = next(v for v in snapshot.own if v.state is DownloadState.STALLED)
        assert (stuck.stall_evidence or "").startswith("network idle: "), stuck
        assert snapshot.history(f"own:{stuck.id}").verdicts[-1].why.startswith("network idle: ")
        # The demo's traffic is on loopback: its network pane counts it, and says so.
        network = app.dashboard.network_pane
        assert "loopback included" in str(network.border_title)
        await wait_for(pilot, lambda: (network.view.rx_now or 0) > 100_000, what="the downloads' bytes on loopback")
        # The downloads pane grows with its rows: every row in sight, no scrollbar.
        table = app.dashboard.downloads_pane.table
        assert table.region.height >= table.row_count + 1 and table.max_scroll_y == 0
        for size in ((120, 36), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.3)
            shown = _states_in_order(app)
            assert shown == sorted(shown, key=severity), (size, shown)
            assert shown[0] is DownloadState.STALLED, "the worst first"
            status = plain(app.dashboard.status_line)
            every = [row.state for row in app.dashboard.snapshot.rows]
            stalled_count, failed_count = every.count(DownloadState.STALLED), every.count(DownloadState.FAILED)
            assert f"{stalled_count} stalled · {failed_count} failed" in status, status
            assert status.index("stalled") < status.index("failed")
            _assert_repo_ids_whole_or_marked(app)
            own = {row.request.label.split("/")[-1][-6:] for row in app.dashboard.snapshot.own}
            rows = [row for row in _downloads(app) if row[1][-6:] in own]  # hftop's own: sizes known
            stalled = next(row for row in rows if row[0] == "stalled")
            assert len(stalled) == 5, (size, "state, repo, done, speed and ETA")
            assert stalled[3] == "no bytes" and stalled[4].startswith("for "), stalled
            assert stalled[2].endswith("%"), "the percent shows"
            running = [row for row in rows if row[0] in ("downloading", "slow tail")]
            for row in running:
                assert row[2].endswith("%") and row[3].endswith("/s") and row[4], row
            assert not app.dashboard.has_class("-too-small")
        # The whole repo id at 120 columns, the shared org/ named in the title at 80.
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.3)
        assert {row[1] for row in _downloads(app)} >= set(_labels(app))
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        assert "…/ is hftop-demo/" in str(app.dashboard.downloads_pane.border_title)
        await pilot.resize_terminal(60, 20)
        await pilot.pause(0.3)
        notice = app.dashboard.query_one("#too-small")
        assert notice.display and "terminal too small: 60×20, hftop needs 80×24" in plain(notice)
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.3)
        assert not notice.display
        assert app.is_running


async def test_the_state_keeps_its_colour_under_the_cursor(live_demo):
    app = make_app(live_demo)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.snapshot.own, what="the demo's downloads")
        table: DataTable = app.dashboard.downloads_pane.table
        table.focus()
        await pilot.pause(0.3)
        assert table.cursor_foreground_priority == "renderable"
        assert table.cursor_background_priority == "renderable"
        cell = table.get_row_at(table.cursor_row)[0]
        assert isinstance(cell, Text) and cell.style, "the state cell carries its own colour"


async def test_too_small_and_back_without_a_crash(tmp_path):
    app = app_for(tmp_path / "hub")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        notice = app.dashboard.query_one("#too-small")
        assert notice.display and "terminal too small: 60×20, hftop needs 80×24" in plain(notice)
        for size in ((79, 30), (100, 23), (20, 6), (1, 1), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            small = size[0] < 80 or size[1] < 24
            assert notice.display is small, size
        await pilot.press("question_mark")
        assert app.is_running


async def test_every_action_is_in_the_palette_with_its_key(tmp_path):
    app = app_for(tmp_path / "hub")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.dashboard.palette_commands()]
        for key in ("(a)", "(r)", "(c)", "(m)", "(i)", "(w)", "(x)", "(R)", "(/)", "(s)", "(n)", "(u)", "(t)"):
            assert any(title.endswith(key) for title in titles), key
        for key in ("(Space)", "(d)", "(P)", "(v)", "(?)", "(Esc)"):
            assert any(title.endswith(key) for title in titles), key
        await pilot.press("ctrl+p", *"sort the cache by name", "enter")
        await pilot.pause(0.3)
        assert "name ↑" in plain(app.query_one("#cache-crumb"))
        # Each of them runs without a crash, whatever the dashboard holds (here: no cache, no download).
        for command in app.dashboard.palette_commands():
            command.callback()
            await pilot.pause(0.2)
            while app.screen is not app.dashboard:
                await pilot.press("escape")
            assert app.is_running, command.title


async def test_the_footer_shows_what_fits_by_priority(demo_cache):
    app = app_for(demo_cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.monitor.scans >= 1, what="the first scan")
        for size in ((120, 36), (80, 24), (100, 30)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.5)
            footer = app.screen.query_one("FittingFooter")
            keys = [k for k in footer.query("FooterKey")]
            shown = {k.description for k in keys}
            assert {"Quit", "Help"} <= shown, (size, shown)
            right = max(k.region.right for k in keys)
            assert right <= size[0], (size, "nothing cut at the right")
            if size[0] >= 120:
                assert "Warnings" in shown and "Sort" in plain(footer.query_one("FooterLabel"))


def test_a_verdict_longer_than_its_two_lines_ends_with_a_mark():
    from rich.text import Text

    from tui.widgets.downloads.pane import _fitted

    long = Text("2 files · Failed: 127.0.0.2:35915 closed the connection mid-file, again after huggingface_hub's "
                "retries. 21.0 MB of model.safetensors were thrown away. R retries.")  # fmt: skip
    fitted = _fitted(long, 76, 2).plain.split("\n")
    assert len(fitted) == 2 and fitted[-1].endswith("…") and all(len(line) <= 76 for line in fitted)
    assert _fitted(Text("short"), 76, 2).plain == "short"


def test_the_line_under_the_table_points_to_the_details_and_the_details_do_not_point_to_themselves():
    from tui.core.downloads import ExternalDownload, PartialProgress
    from tui.widgets.downloads.verdict import explain

    evidence = ("no local process has it open and its lock is free", "last written 1m ago")
    progress = PartialProgress(0.0, 1 << 20, 90 << 20, None, None, 60.0, DownloadState.ORPHANED, evidence)
    row = ExternalDownload("/c/x.incomplete", "model", "a/b", "x", "f", "c0ffee", None, None, None, (), None, progress)
    assert "Enter: evidence." in explain(row, 300).plain
    assert "Enter" not in explain(row, 300, in_details=True).plain


def test_a_stalled_row_says_retrying_while_bytes_arrive_that_bring_it_no_further():
    from tui.widgets.downloads.pane import _row_cells

    idle = _row_cells(DownloadState.STALLED, "a/b", "25.0 MB", " 27%", 0.0, None, 81.0)
    looping = _row_cells(DownloadState.STALLED, "a/b", "25.0 MB", " 27%", 3_000_000.0, None, 81.0)
    assert (idle.speed.plain, idle.eta.plain) == ("no bytes", "for 1m21s")
    assert (looping.speed.plain, looping.short_speed.plain, looping.eta.plain) == ("retrying", "retrying", "for 1m21s")
