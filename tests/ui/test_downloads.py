"""The downloads pane and the add dialog, driven with keys against the devhub."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

from textual.widgets import Checkbox, DataTable, Input, Static

from tui.app import make_app
from tui.core.download_plan import DownloadRequest
from tui.core.downloads import DownloadState
from tui.devhub.faults import Fault
from tui.screens.add_download import AddDownloadScreen
from tui.screens.choice import ChoiceScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.download_details import DownloadDetailsScreen
from tui.settings import Settings

from .helpers import plain, wait_for

MiB = 1024 * 1024


def _app(hub, cache, **kwargs):
    return make_app(Settings(cache_dir=cache, endpoint=hub.endpoint, refresh=0.3, **kwargs))


def _throttled_phi_tiny(hub, cache, rate: int, lasting: bool = False):
    """An app whose hub serves hftop-demo/phi-tiny at `rate`, and which is told to download it. `lasting`:
    over plain HTTP, its second half at 100 kB/s, so it runs for minutes with its first half on disk in
    seconds: a test that acts once bytes are on disk does not race the file's end. (hf_xet fetches its
    16 MiB terms in any order and writes them in file order: when its first one is on disk varies from run
    to run, from 14 s to past the end of a 40 s file; with a slow second half, its slots can all be there.)"""
    tail = {"tail_rate": 100_000, "tail_fraction": 0.5} if lasting else {}
    hub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=rate, **tail))
    app = _app(hub, cache)
    request = DownloadRequest("hftop-demo/phi-tiny", disable_xet=lasting)
    return app, lambda: app.dashboard.downloads_flows.start_planned(app.dashboard.downloads_flows.plan(request))


async def _started_until_on_disk(pilot, app, start, at: int) -> None:
    """Start the download and wait until `at` bytes of its file are on disk."""
    start()
    await wait_for(
        pilot,
        lambda: app.dashboard.snapshot.own and app.dashboard.snapshot.own[0].on_disk >= at,
        timeout=40,  # hf_xet writes whole terms, and starts slowly on a busy machine
        what=f"{at} on disk",
        show=lambda: app.dashboard.snapshot.own,
    )


async def _cancelled_keeping_the_bytes(pilot, app, start, at: int) -> None:
    """Start the download, and once `at` bytes are on disk cancel it with x, keeping them (k)."""
    await _started_until_on_disk(pilot, app, start, at)
    app.dashboard.downloads_pane.table.focus()
    await pilot.press("x")
    await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the question")
    await pilot.press("k")
    await wait_for(
        pilot,
        lambda: app.dashboard.snapshot.own[0].state is DownloadState.CANCELLED,
        timeout=40,  # the stop's grace, and its process's exit, on a busy machine
        what="cancelled",
        show=lambda: app.dashboard.snapshot.own[0].state,
    )


async def _own_download_done(pilot, app) -> None:
    """Wait (up to 60 s) until hftop's first download of its own is done."""
    await wait_for(
        pilot,
        lambda: app.dashboard.snapshot.own and app.dashboard.snapshot.own[0].state is DownloadState.DONE,
        timeout=60,
        what="done",
    )


def _message(app) -> str:
    return plain(app.screen.query_one("#add-message", Static))


async def _type(pilot, app, selector, text):
    field = app.screen.query_one(selector, Input)
    field.value = ""
    field.focus()
    await pilot.press(*text)


async def test_add_dialog_refuses_bad_input_plans_and_starts(fresh_devhub, tmp_path):
    cache = tmp_path / "hub"
    app = _app(fresh_devhub, cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("a")
        assert isinstance(app.screen, AddDownloadScreen)
        assert "no token is sent" in str(app.screen.query_one("#add-body").border_subtitle)
        plain_http = app.screen.query_one("#add-plain-http", Checkbox)
        assert "▐ ▌" in plain(plain_http), "unticked, the box shows no X"
        plain_http.focus()
        await pilot.press("space")
        assert plain_http.value and "▐X▌" in plain(plain_http)
        await pilot.press("space")
        assert not plain_http.value

        await _type(pilot, app, "#add-repo", "a--b")
        await pilot.press("enter")
        assert "is not a repo id" in _message(app)

        await _type(pilot, app, "#add-repo", "hftop-demo/nope")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "No model hftop-demo/nope" in _message(app), what="unknown repo message")

        await _type(pilot, app, "#add-repo", "hftop-demo/gpt-micro")
        await _type(pilot, app, "#add-files", "model.bin")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "No file 'model.bin'" in _message(app), what="unknown file message")

        await _type(pilot, app, "#add-files", "*.safetensors")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "1 file, 3.0 MB to fetch" in _message(app), what="the plan")
        assert "free" in _message(app) and not app.screen.query_one("#add-start").disabled

        await pilot.press("enter")  # the same request again: start it
        await wait_for(pilot, lambda: not isinstance(app.screen, AddDownloadScreen), what="the dialog to close")
        await wait_for(pilot, lambda: app.dashboard.snapshot.own and app.dashboard.snapshot.own[0].state is DownloadState.DONE,
                       what="the download to finish")  # fmt: skip
        assert "hftop-demo/gpt-micro" in str(app.dashboard.downloads_pane.table.get_row_at(0)[1])
        snapshot = cache / "models--hftop-demo--gpt-micro" / "snapshots"
        assert [p.name for p in snapshot.glob("*/*")] == ["model.safetensors"]


async def test_cancel_asks_whether_to_keep_the_bytes_and_deletes_them_by_default(fresh_devhub, tmp_path):
    cache = tmp_path / "hub"
    app, start = _throttled_phi_tiny(fresh_devhub, cache, 3_000_000, lasting=True)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await _started_until_on_disk(pilot, app, start, 10 * MiB)
        pane.table.focus()
        await pilot.press("enter")  # the details: numbers behind the verdict, speed over time
        await wait_for(pilot, lambda: isinstance(app.screen, DownloadDetailsScreen), what="the details")
        await pilot.pause(0.6)
        figures = " ".join(plain(app.screen.query_one("#details-figures", Static)).split())  # wrapped lines as one
        assert "of 120.0 MB to fetch" in figures and "started by hftop" in figures and "main (" in figures
        assert max(app.screen.query_one("#details-speed").data) > 1_000_000
        await pilot.press("escape")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the question")
        text = plain(app.screen.query_one("#confirm-text", Static))
        assert "model.safetensors has" in text and "Cancelling deletes them, or keeps them" in text
        assert "Delete bytes (y)" in plain(app.screen.query_one("#choice-0"))
        await pilot.press("n")  # keep downloading
        assert app.dashboard.snapshot.own[0].state.active
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.dashboard.snapshot.own[0].state is DownloadState.CANCELLED, what="cancelled",
                       timeout=40, show=lambda: app.dashboard.snapshot.own[0].state)  # fmt: skip
        assert list(cache.rglob("*.incomplete")) == []
        assert "partial file deleted" in plain(pane.query_one("#downloads-detail", Static))

        fresh_devhub.clear_faults()
        await pilot.press("R")  # nothing is running: restarts without asking (120 MB afresh, on a busy machine too)
        await wait_for(pilot, lambda: app.dashboard.snapshot.own[0].attempt == 2 and app.dashboard.snapshot.own[0].state is DownloadState.DONE,
                       timeout=40, what="the retry to finish", show=lambda: app.dashboard.snapshot.own[0])  # fmt: skip
        assert "The last attempt threw away" in plain(pane.query_one("#downloads-detail", Static))


async def test_no_key_acts_on_rows_hidden_behind_the_too_small_notice(fresh_devhub, tmp_path):
    """Under 80x24 the panes are covered: keys that would cancel, restart or open a row do nothing
    until the terminal is large enough again."""
    app, start = _throttled_phi_tiny(fresh_devhub, tmp_path / "hub", 2_000_000)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        start()
        await wait_for(pilot, lambda: app.dashboard.snapshot.own and app.dashboard.snapshot.own[0].state.active,
                       what="the download under way")  # fmt: skip
        pane.table.focus()
        await pilot.resize_terminal(60, 20)
        await pilot.pause(0.3)
        for key in ("x", "R", "enter", "a", "d", "space", "w", "m", "c"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is app.dashboard, key
        [row] = app.dashboard.snapshot.own
        assert row.attempt == 1 and row.state.active
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.3)
        await pilot.press("x")
        await wait_for(
            pilot, lambda: isinstance(app.screen, (ChoiceScreen, ConfirmScreen)), what="the question, once shown"
        )
        await pilot.press("escape")
        assert app.dashboard.snapshot.own[0].state.active


async def test_cancel_that_keeps_the_bytes_then_r_resumes_from_them(fresh_devhub, tmp_path):
    cache = tmp_path / "hub"
    app, start = _throttled_phi_tiny(fresh_devhub, cache, 3_000_000, lasting=True)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await _cancelled_keeping_the_bytes(pilot, app, start, 20 * MiB)
        kept = app.dashboard.snapshot.own[0].kept_bytes
        assert kept >= 20 * MiB and len(list(cache.rglob("*.incomplete"))) == 1
        assert "are kept: R resumes from them" in plain(pane.query_one("#downloads-detail", Static))
        assert not app.dashboard.snapshot.others, "the kept bytes are hftop's, not another program's orphan"

        fresh_devhub.clear_faults()
        await pilot.press("R")
        orphans = []

        def resumed() -> bool:
            snapshot = app.dashboard.snapshot
            orphans.extend(row.state for row in snapshot.others)
            return snapshot.own[0].attempt == 2 and snapshot.own[0].state is DownloadState.DONE

        await wait_for(pilot, resumed, what="the resumed download to finish")
        assert not orphans, "the kept bytes stay hftop's while the resume starts, never another row"
        assert f"bytes={kept}-" in [r.range for r in fresh_devhub.requests() if r.server == "origin"]
        assert list(cache.rglob("*.incomplete")) == []


async def test_x_on_a_cancelled_download_deletes_the_bytes_it_kept_after_asking(fresh_devhub, tmp_path):
    cache = tmp_path / "hub"
    app, start = _throttled_phi_tiny(fresh_devhub, cache, 3_000_000, lasting=True)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await _cancelled_keeping_the_bytes(pilot, app, start, 10 * MiB)
        assert app.dashboard.snapshot.own[0].kept_bytes > 0
        assert "x deletes them" in plain(pane.query_one("#downloads-detail", Static))
        pane.focus()
        await pilot.pause()
        assert app.screen.active_bindings["x"].binding.description == "Delete kept bytes", "the footer says so"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "are kept for R to resume from" in plain(app.screen.query_one("#confirm-text", Static))
        await pilot.press("escape")  # kept
        assert len(list(cache.rglob("*.incomplete"))) == 1
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.dashboard.snapshot.own[0].kept_bytes == 0, what="the kept bytes deleted")
        assert list(cache.rglob("*.incomplete")) == []
        assert app.dashboard.snapshot.own[0].state is DownloadState.CANCELLED
        await wait_for(
            pilot, lambda: app.screen.active_bindings["x"].binding.description == "Cancel", what="x cancels again"
        )


async def test_quit_asks_while_a_download_runs_and_stops_it(fresh_devhub, tmp_path):
    cache = tmp_path / "hub"
    app, start = _throttled_phi_tiny(fresh_devhub, cache, 2_000_000)
    async with app.run_test(size=(120, 36)) as pilot:
        start()
        await wait_for(
            pilot, lambda: app.dashboard.supervisor.active_count == 1 and app.dashboard.snapshot.own, what="start"
        )
        pid = app.dashboard.snapshot.own[0].pid
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "1 download started by hftop is running" in plain(app.screen.query_one("#confirm-text", Static))
        await pilot.press("n")
        assert app.is_running
        await pilot.press("q", "y")
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            assert f.read().split(") ")[1][0] == "Z", "the download outlived hftop"
    except ProcessLookupError:
        pass
    assert list(cache.rglob("*.incomplete")) == []


async def test_add_dialog_says_when_the_endpoint_cannot_be_reached(tmp_path):
    app = make_app(Settings(cache_dir=tmp_path / "hub", endpoint="http://127.0.0.1:9", refresh=0.3))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("a", *"org/model", "enter")
        await wait_for(pilot, lambda: "Cannot reach 127.0.0.1:9: connection refused" in _message(app), what="the error")
        assert app.screen.query_one("#add-start").disabled
        await pilot.press("escape")
        assert not isinstance(app.screen, AddDownloadScreen)


async def test_a_plan_that_does_not_fit_cannot_start(fresh_devhub, tmp_path):
    app = _app(fresh_devhub, tmp_path / "hub")
    async with app.run_test(size=(120, 36)) as pilot:

        def planner(request):
            return replace(app.dashboard.downloads_flows.plan(request), free_bytes=1_000_000)

        app.push_screen(AddDownloadScreen(planner, fresh_devhub.endpoint, "no token is sent"))
        await pilot.pause()
        await pilot.press(*"hftop-demo/gpt-micro", "enter")
        await wait_for(pilot, lambda: "Does not fit" in _message(app), what="the refusal")
        assert "3.0 MB to fetch, 1.0 MB free" in _message(app)
        assert app.screen.query_one("#add-start").disabled
        await pilot.press("enter")
        assert isinstance(app.screen, AddDownloadScreen) and not app.dashboard.supervisor.views()


async def test_the_same_files_are_not_downloaded_twice_at_once(fresh_devhub, tmp_path):
    app, start = _throttled_phi_tiny(fresh_devhub, tmp_path / "hub", 2_000_000)
    async with app.run_test(size=(120, 36)) as pilot:
        start()
        await wait_for(pilot, lambda: app.dashboard.supervisor.active_count == 1, what="the first download")
        await pilot.press("a", *"hftop-demo/phi-tiny", "enter")
        await wait_for(pilot, lambda: "already downloading hftop-demo/phi-tiny" in _message(app), what="the refusal")


async def test_another_programs_download_shows_with_its_process_then_as_orphan(outside_downloader, fresh_devhub):
    proc, cache = outside_downloader
    app = make_app(Settings(cache_dir=cache, endpoint=fresh_devhub.endpoint, refresh=0.3, stall_after=600))
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await wait_for(
            pilot,
            lambda: app.dashboard.snapshot.others and app.dashboard.snapshot.others[0].progress.real_bytes >= 10 * MiB,
            what="it",
        )
        row = app.dashboard.snapshot.others[0]
        assert (row.repo_id, row.owner_pid, row.file_name) == ("hftop-demo/qwen-small", proc.pid, "model.safetensors")
        pane.table.focus()
        await pilot.pause()
        detail = plain(pane.query_one("#downloads-detail", Static))
        assert f"pid {proc.pid}" in detail and "model.safetensors" in detail
        await pilot.press("x")  # another program's: stopping it is asked with its command line
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert f"Stop process {proc.pid}" in plain(app.screen.query_one("#confirm-text", Static))
        assert "snapshot_download" in plain(app.screen.query_one("#confirm-text", Static))
        await pilot.press("y")
        await wait_for(pilot, lambda: proc.poll() is not None, what="the process to stop")
        await wait_for(
            pilot,
            lambda: app.dashboard.snapshot.others and app.dashboard.snapshot.others[0].state is DownloadState.ORPHANED,
            what="orphan",
        )
        await pilot.pause()
        assert "No local process has it open" in plain(pane.query_one("#downloads-detail", Static))

        partial = Path(app.dashboard.snapshot.others[0].key)
        await pilot.press("x")  # an orphan: deleting it is asked, then done
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "Deleting frees 10.5 MB" in plain(app.screen.query_one("#confirm-text", Static))
        await pilot.press("y")
        await wait_for(pilot, lambda: not partial.exists(), what="the orphan to be deleted")
        await wait_for(pilot, lambda: not app.dashboard.snapshot.others, what="the row to go")


async def test_r_on_another_programs_stalled_download_keeps_its_bytes_stops_it_and_resumes(
    outside_downloader, fresh_devhub
):
    proc, cache = outside_downloader
    app = make_app(Settings(cache_dir=cache, endpoint=fresh_devhub.endpoint, refresh=0.3))
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await wait_for(
            pilot,
            lambda: app.dashboard.snapshot.others and app.dashboard.snapshot.others[0].progress.real_bytes >= 10 * MiB,
            what="it",
        )
        old_partial = Path(app.dashboard.snapshot.others[0].key)
        pane.table.focus()
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        text = plain(app.screen.query_one("#confirm-text", Static))
        assert "Resume hftop-demo/qwen-small model.safetensors with hftop" in text and f"Process {proc.pid}" in text
        assert "resumes at 10.5 MB of 90.0 MB: 79.5 MB to fetch from" in text
        fresh_devhub.clear_faults()
        await pilot.press("y")
        await _own_download_done(pilot, app)
        assert proc.poll() is not None and not old_partial.exists()
        assert app.dashboard.snapshot.own[0].plan.request.patterns == ("model.safetensors",)
        assert f"bytes={10 * MiB}-" in [r.range for r in fresh_devhub.requests() if r.server == "origin"]
        assert list(cache.rglob("*.incomplete")) == []
        assert not app.dashboard.snapshot.others, "nothing left behind"


async def test_a_stall_and_a_process_waiting_on_its_lock_in_the_dashboard(outside_downloader, fresh_devhub):
    import subprocess
    import sys

    holder, cache = outside_downloader
    app = make_app(Settings(cache_dir=cache, endpoint=fresh_devhub.endpoint, refresh=0.3, stall_after=2))
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await wait_for(
            pilot,
            lambda: app.dashboard.snapshot.others and app.dashboard.snapshot.others[0].progress.real_bytes >= 10 * MiB,
            what="it",
        )
        waiter = subprocess.Popen(
            [sys.executable, "-c", "import sys; from huggingface_hub import hf_hub_download; "
             "hf_hub_download('hftop-demo/qwen-small', 'model.safetensors', cache_dir=sys.argv[1])", str(cache)],
            env={**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint, "HF_HUB_DISABLE_XET": "1"},
        )  # fmt: skip
        try:
            await wait_for(
                pilot,
                lambda: (
                    {r.state for r in app.dashboard.snapshot.others} == {DownloadState.STALLED, DownloadState.WAITING}
                ),
                timeout=30,
                what="a stall and a waiter",
            )
            table = pane.table
            table.focus()
            states = [plain_cell(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert states == ["stalled", "waiting for lock"]
            assert f"pid {holder.pid}" in plain_cell(table.get_row_at(1)[2])
            detail = plain(pane.query_one("#downloads-detail", Static))
            assert "Network idle:" in detail and "nothing received for" in detail
            await pilot.press("down")
            await pilot.pause()
            detail = plain(pane.query_one("#downloads-detail", Static))
            assert f"pid {waiter.pid}" in detail and f"PID {holder.pid} holds the file's lock" in detail
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DownloadDetailsScreen), what="the details")
            await pilot.pause(0.6)
            figures = " ".join(plain(app.screen.query_one("#details-figures", Static)).split())  # wrapped lines as one
            assert f"PID {holder.pid} is fetching the same file: 10.5 MB of 90.0 MB, stalled" in figures
            assert "waiting for lock" in plain(app.screen.query_one("#details-timeline", Static))
        finally:
            waiter.kill()
            waiter.wait()


def plain_cell(cell) -> str:
    return getattr(cell, "plain", str(cell)).strip()


async def test_read_only_refuses_every_action_that_changes_something(outside_downloader, fresh_devhub):
    proc, cache = outside_downloader
    app = make_app(Settings(cache_dir=cache, endpoint=fresh_devhub.endpoint, refresh=0.3, read_only=True))
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await wait_for(
            pilot,
            lambda: app.dashboard.snapshot.others and app.dashboard.snapshot.others[0].progress.real_bytes >= 10 * MiB,
            what="it",
        )
        assert "READ-ONLY" in plain(app.query_one("#status", Static))
        partial = Path(app.dashboard.snapshot.others[0].key)
        pane.table.focus()
        for key in ("x", "R", "a"):
            await pilot.press(key)
            await pilot.pause(0.3)
            assert app.screen is app.screen_stack[0], f"{key} opened {app.screen}"
        assert any("read-only" in str(n.message) for n in app._notifications)
        assert proc.poll() is None and partial.exists() and not app.dashboard.supervisor.views()


async def test_switch_a_running_download_to_a_trusted_fast_mirror(fresh_devhub, tmp_path, monkeypatch):
    import hashlib

    from textual.widgets import DataTable

    from tui.core.mirrors import Mirror
    from tui.devhub.server import DevHub
    from tui.screens.mirrors import MirrorScreen
    from tui.settings import load_config

    monkeypatch.setenv("HF_TOKEN", "hf_secret_for_the_test")
    slow = fresh_devhub
    slow.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=300_000))
    with DevHub() as fast:
        mirrors = (Mirror("slow", slow.endpoint), Mirror("fast", fast.endpoint, trusted=True))
        config = tmp_path / "config.toml"
        cache = tmp_path / "hub"
        app = make_app(
            Settings(cache_dir=cache, endpoint=slow.endpoint, refresh=0.3, mirrors=mirrors, config_path=config)
        )
        async with app.run_test(size=(120, 36)) as pilot:
            app.dashboard.downloads_flows.start_planned(
                app.dashboard.downloads_flows.plan(DownloadRequest("hftop-demo/phi-tiny"))
            )
            await wait_for(
                pilot,
                lambda: app.dashboard.supervisor.views() and app.dashboard.supervisor.views()[0].done_bytes > 0,
                what="bytes",
            )
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, MirrorScreen), what="the picker")
            await wait_for(pilot, lambda: len(app.screen.probes) == 4, timeout=30, what="every probe")
            assert (
                app.screen.probes[fast.endpoint].reachable and "answers in" in app.screen.probes[fast.endpoint].message
            )
            table = app.screen.query_one("#mirrors-table", DataTable)
            table.move_cursor(row=table.get_row_index(fast.endpoint))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.dashboard.settings.endpoint == fast.endpoint, what="the switch")
            assert load_config(config).endpoint == fast.endpoint and app.dashboard.send_token

            app.dashboard.downloads_pane.table.focus()
            await pilot.press("R")  # a running download: the restart says first what it keeps
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: app.dashboard.supervisor.views()[0].state is DownloadState.DONE,
                timeout=60,
                what="the end",
            )
        view = app.dashboard.supervisor.views()[0]
        blob = next(f for f in view.plan.files if f.path == "model.safetensors")
        data = (cache / "models--hftop-demo--phi-tiny" / "blobs" / blob.etag).read_bytes()
        assert hashlib.sha256(data).hexdigest() == blob.etag
        assert not any(r.authorized for r in slow.requests()), "a token went to the untrusted mirror"
        fetched = [r for r in fast.requests() if "/resolve/" in r.path and "model.safetensors" in r.path]
        assert fetched and all(r.authorized for r in fetched), "the trusted mirror got the token"


async def test_bytes_from_elsewhere_than_the_mirror_are_named(fresh_devhub, tmp_path):
    # The devhub's CAS sends hf_xet to its xorb storage (127.0.0.3), as the Hub's does to its own.
    app, start = _throttled_phi_tiny(fresh_devhub, tmp_path / "hub", 500_000)
    async with app.run_test(size=(120, 36)) as pilot:
        start()
        pane = app.dashboard.downloads_pane
        await wait_for(
            pilot,
            lambda: (
                app.dashboard.snapshot.own
                and app.dashboard.snapshot.own[0].current_file == "model.safetensors"
                and app.dashboard.snapshot.own[0].remotes
            ),
            what="the big file's connection",
        )
        await wait_for(
            pilot,
            lambda: (
                app.dashboard.snapshot.own[0].bytes_elsewhere
                and app.dashboard.snapshot.own[0].state is DownloadState.DOWNLOADING
            ),
            what="bytes flowing from the origin",
        )
        pane.table.focus()
        await pilot.pause()
        assert "Bytes not from the mirror" in plain(pane.query_one("#downloads-detail", Static))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DownloadDetailsScreen), what="the details")
        await pilot.pause(0.6)
        figures = " ".join(plain(app.screen.query_one("#details-figures", Static)).split())  # wrapped lines as one
        assert "bytes from" in figures and "127.0.0.3:" in figures and "not from the mirror 127.0.0.1:" in figures


async def test_no_worker_error_is_lost_in_the_add_dialog_or_the_mirror_picker(tmp_path):
    """An endpoint that passed no check (a NUL in it): the dialog and the picker say what went wrong
    instead of "Asking…" and "probing…" for ever; a planner failing in a way nobody put in words too."""
    from tui.screens.mirrors import MirrorScreen

    app = make_app(Settings(cache_dir=tmp_path / "hub", endpoint="http://127.0.0.1:9/\x00x", refresh=0.3))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("a")
        await _type(pilot, app, "#add-repo", "org/name")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Asking" not in _message(app) and _message(app), what="an answer", timeout=10)
        assert app.screen.query_one("#add-start").disabled
        await pilot.press("escape")

        def broken_planner(request):
            raise OSError(24, "Too many open files")

        app.push_screen(AddDownloadScreen(broken_planner, "http://127.0.0.1:9", "no token is sent"))
        await pilot.pause()
        await _type(pilot, app, "#add-repo", "org/name")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Too many open files" in _message(app), what="the error in words")
        await pilot.press("escape")

        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MirrorScreen))
        table = app.screen.query_one("#mirrors-table", DataTable)
        await wait_for(
            pilot,
            lambda: all("probing" not in str(table.get_cell(key, "status")) for key in table.rows),
            timeout=15,
            what="every probe's answer",
        )
        assert app.is_running


async def test_r_on_a_dead_programs_partial_resumes_it_and_huggingface_hub_finds_the_file(devhub, demo_cache):
    """The demo cache's orphan: a plain-HTTP download of hftop-demo/vit-huge killed with SIGKILL."""
    app = make_app(Settings(cache_dir=demo_cache, endpoint=devhub.endpoint, refresh=0.3))
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        await wait_for(
            pilot,
            lambda: app.dashboard.snapshot.others and app.dashboard.snapshot.others[0].file_name,
            what="the orphan with its name, asked of hftop's endpoint",
        )
        row = app.dashboard.snapshot.others[0]
        assert row.state is DownloadState.ORPHANED and row.file_name == "model.safetensors"
        kept = row.progress.real_bytes
        pane.table.focus()
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        text = plain(app.screen.query_one("#confirm-text", Static))
        assert "Its program is gone" in text and f"resumes at {kept / 1e6:.1f} MB of 250.0 MB" in text
        before = len(devhub.requests())
        await pilot.press("y")
        await _own_download_done(pilot, app)
        assert "resumed from bytes on disk" in plain(pane.query_one("#downloads-detail", Static))
        assert not app.dashboard.snapshot.others
    ranges = [r.range for r in devhub.requests()[before:] if r.method == "GET" and r.range]
    assert ranges and ranges[-1] == f"bytes={kept}-"
    assert list(demo_cache.rglob("*.incomplete")) == []
    from huggingface_hub import hf_hub_download

    path = hf_hub_download("hftop-demo/vit-huge", "model.safetensors", cache_dir=demo_cache, local_files_only=True)
    blob = Path(path).resolve()
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert digest == devhub.file("hftop-demo/vit-huge", "model.safetensors").sha256


async def test_bytes_a_cancel_kept_are_a_cancelled_download_when_hftop_starts_again(fresh_devhub, tmp_path):
    """hftop's mark on the file outlives the hftop that cancelled: started again, the row is "cancelled" (no
    dead writer's orphan), and R resumes it from the bytes."""
    import time

    from tui.downloads.supervisor import DownloadSupervisor
    from tui.probes.hub import plan_download

    cache = tmp_path / "hub"
    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=8_000_000))
    request = DownloadRequest("hftop-demo/phi-tiny", disable_xet=True)
    plan = plan_download(request, endpoint=fresh_devhub.endpoint, cache_dir=cache, token=False)
    earlier = DownloadSupervisor(cache, fresh_devhub.endpoint, stall_after=300)
    download_id = earlier.start(plan)
    deadline = time.monotonic() + 60
    while earlier.view(download_id).on_disk < 20 * MiB:
        assert time.monotonic() < deadline, earlier.view(download_id)
        time.sleep(0.05)
    earlier.cancel(download_id, keep=True)
    kept = earlier.view(download_id).kept_bytes
    earlier.stop_all()
    fresh_devhub.clear_faults()

    app = _app(fresh_devhub, cache)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.dashboard.downloads_pane
        others = lambda: app.dashboard.snapshot.others  # noqa: E731
        await wait_for(pilot, lambda: others() and others()[0].file_name, what="the kept file, named")
        assert others()[0].state is DownloadState.CANCELLED, others()[0]
        pane.table.focus()
        await pilot.pause(0.4)
        detail = plain(pane.query_one("#downloads-detail", Static))
        assert "Cancelled in hftop" in detail and "R resumes it from its bytes, x deletes it." in detail, detail
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        question = plain(app.screen.query_one("#confirm-text", Static))
        assert "hftop kept these bytes" in question and "when the program runs again" not in question, question
        await pilot.press("y")
        await _own_download_done(pilot, app)
        assert app.dashboard.snapshot.own[0].reused_bytes == kept and not others()
    assert list(cache.rglob("*.incomplete")) == []


async def test_the_cursor_stays_on_top_until_the_user_picks_a_row_then_follows_it(outside_downloader, fresh_devhub):
    """Rows reorder as verdicts change: the row the user picked keeps the cursor; before any pick the cursor
    stays on the top row, what needs a person first, never on whichever row came first."""
    _, cache = outside_downloader
    fresh_devhub.set_fault("hftop-demo/phi-tiny/model.safetensors", Fault(throttle=1_000_000))
    app = make_app(Settings(cache_dir=cache, endpoint=fresh_devhub.endpoint, refresh=0.3, stall_after=8))
    async with app.run_test(size=(120, 36)) as pilot:
        snapshot = lambda: app.dashboard.snapshot  # noqa: E731
        table = app.dashboard.downloads_pane.table
        await wait_for(pilot, lambda: snapshot().others, what="the other program's download")
        flows = app.dashboard.downloads_flows
        flows.start_planned(flows.plan(DownloadRequest("hftop-demo/phi-tiny")))
        await wait_for(
            pilot,
            lambda: len(snapshot().rows) == 2 and {r.state for r in snapshot().rows} == {DownloadState.DOWNLOADING},
            what="both downloading",
        )
        await pilot.pause(0.4)
        own = f"own:{snapshot().own[0].id}"
        assert [str(k.value) for k in table.rows][0] == own, "both downloading: hftop's own first"
        assert table.cursor_row == 0, "not the row that came first"

        table.focus()
        await pilot.press("down", "up")  # the user picks hftop's own download
        await wait_for(pilot, lambda: snapshot().others[0].state is DownloadState.STALLED, timeout=30, what="the stall")
        await wait_for(pilot, lambda: str(next(iter(table.rows)).value) != own, what="the stalled row on top")
        await pilot.pause(0.4)
        assert table.cursor_row == 1 and table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == own


async def test_another_programs_failed_download_stays_listed_and_r_fetches_it_again(fresh_devhub, tmp_path):
    """huggingface_hub gives up after its retries and deletes its partial file: the row stays, failed, with
    what was seen; R fetches the file whole with hftop, and the failed row goes."""
    import subprocess
    import sys

    from tests.conftest import OUTSIDE_DOWNLOADER

    repo = "hftop-demo/qwen-small"
    fresh_devhub.set_fault(f"{repo}/model.safetensors", Fault(throttle=5_000_000, drop_after=10 * MiB, drop_times=1000))
    cache = tmp_path / "hub"
    proc = subprocess.Popen(
        [sys.executable, "-c", OUTSIDE_DOWNLOADER, repo, str(cache), fresh_devhub.endpoint],
        env={**os.environ, "HF_HUB_DISABLE_XET": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app = make_app(Settings(cache_dir=cache, endpoint=fresh_devhub.endpoint, refresh=0.3))
        async with app.run_test(size=(120, 36)) as pilot:
            pane = app.dashboard.downloads_pane
            others = lambda: app.dashboard.snapshot.others  # noqa: E731
            await wait_for(pilot, lambda: others() and others()[0].owner_pid == proc.pid, what="its download")
            await wait_for(pilot, lambda: proc.poll() is not None, timeout=60, what="huggingface_hub to give up")
            # The file goes before its process exits: the row's last line follows the process, not that moment.
            ended = f"process {proc.pid} has ended"
            await wait_for(
                pilot,
                lambda: (
                    others()
                    and others()[0].state is DownloadState.FAILED
                    and others()[0].progress.evidence[3:] == (ended,)
                ),
                what="the failed row, its process ended",
            )
            [row] = others()
            assert proc.returncode != 0 and not list(cache.rglob("*.incomplete"))
            assert "with no blob in its place" in row.progress.evidence[0]
            pane.table.focus()
            await pilot.pause()
            assert "R fetches it again with hftop" in plain(pane.query_one("#downloads-detail", Static))

            await pilot.press("x")  # nothing runs and nothing is on disk: said, nothing asked
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.press("R")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            text = plain(app.screen.query_one("#confirm-text", Static))
            assert f"Fetch {repo} model.safetensors again with hftop?" in text and "nothing is left to resume" in text
            fresh_devhub.clear_faults()
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: app.dashboard.snapshot.own and app.dashboard.snapshot.own[0].state is DownloadState.DONE,
                timeout=60,
                what="done",
            )
            await wait_for(pilot, lambda: not others(), what="the failed row to go")
    finally:
        proc.kill()
        proc.wait()
    assert list(cache.rglob("*.incomplete")) == []


def test_the_details_show_brackets_in_a_command_line_or_a_path_as_they_are():
    """A command line or a path is never read as Rich markup: `[/x]` would end a style that never began."""
    import io

    from rich.console import Console

    from tui.core.downloads import ExternalDownload, PartialProgress
    from tui.screens.download_details import _figures

    progress = PartialProgress(0.0, 1 << 20, 90 << 20, 0.0, None, 1.0, DownloadState.DOWNLOADING, ("[/why] [bold]",))
    command = "python train.py --tags [/x] [bold]y"
    row = ExternalDownload(
        "/c/[/a].incomplete", "model", "a/b", "x", "f[1].bin", None, 7, command, "sleeping", (), 7, progress
    )
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(_figures(row, 10.0))
    drawn = console.file.getvalue()
    assert command in drawn and "/c/[/a].incomplete" in drawn and "[/why] [bold]" in drawn
