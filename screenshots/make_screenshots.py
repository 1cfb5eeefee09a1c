"""Drive the real app on fixed demo data and save the SVGs the README shows.

    python screenshots/make_screenshots.py

Uses the devhub (loopback, no network) to build the cache by real downloads, pins every
timestamp, and feeds scripted network counters, so the pictures change only when the UI does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual.widgets import DataTable

from tui.app import make_app
from tui.core.downloads import DownloadState
from tui.demo import DEMO_DOWNLOADS
from tui.devhub.demo_folders import lay_out_folders
from tui.devhub.faults import parse_fault
from tui.devhub.fixed_data import build_fixed_cache, fixed_disk, frozen_clock, scripted_counters, settle
from tui.devhub.server import DevHub
from tui.monitor.monitor import Sources
from tui.settings import DEMO_STALL_AFTER, Settings

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


async def show_folders(pilot) -> None:
    await settle(pilot)
    await pilot.press("f")
    pane = pilot.app.dashboard.folders_pane
    for _ in range(100):
        await pilot.pause(0.1)
        if pane.folders is not None:
            break
    table = pane.query_one("#folders-table", DataTable)
    arrow = next(p for p in pane.folders.parts if p.markable)
    table.move_cursor(row=table.get_row_index(arrow.key))
    await pilot.press("space")


SHOTS = [
    ("dashboard", (120, 36), settle),
    ("cache-revisions", (120, 36), open_tiny_bert),
    ("cache-filter", (120, 36), filter_models),
    ("help", (120, 36), open_help),
    ("narrow-80x24", (80, 24), settle),
    ("xet-and-datasets", (120, 36), show_folders),
]


async def shoot(cache: Path) -> None:
    # The xet folder and the datasets cache as the demo lays them out, their ages pinned like the cache's.
    folders = cache.parent / "folders"  # a fixed path: it is shown
    shutil.rmtree(folders, ignore_errors=True)
    lay_out_folders(folders / "xet", folders / "datasets", now=frozen_clock())
    os.environ["HF_XET_CACHE"] = str(folders / "xet")
    os.environ["HF_DATASETS_CACHE"] = str(folders / "datasets")
    for name, size, prepare in SHOTS:
        settings = Settings(cache_dir=cache, endpoint="https://huggingface.co", refresh=3600)
        app = make_app(settings, Sources(clock=frozen_clock, counters=scripted_counters(), disk=fixed_disk))
        async with app.run_test(size=size) as pilot:
            await prepare(pilot)
            await pilot.pause()
            path = app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
            print(path)
    shutil.rmtree(folders, ignore_errors=True)


async def shoot_demo_downloads(hub: DevHub, cache: Path) -> None:
    """The demo's four live downloads once each has reached its state (about half a minute)."""
    for request, fault in DEMO_DOWNLOADS:
        hub.set_fault(*parse_fault(f"{request.repo_id}/*:{fault}"))
    settings = Settings(
        cache_dir=cache,
        endpoint=hub.endpoint,
        refresh=1.0,
        demo=True,
        stall_after=DEMO_STALL_AFTER,
        start_downloads=tuple(request for request, _ in DEMO_DOWNLOADS),
    )
    app = make_app(settings, Sources(clock=frozen_clock, counters=scripted_counters(), disk=fixed_disk))
    wanted = {DownloadState.DOWNLOADING, DownloadState.SLOW_TAIL, DownloadState.STALLED, DownloadState.FAILED}
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(600):
            await pilot.pause(0.1)
            if {v.state for v in app.dashboard.snapshot.own} == wanted:
                break
        else:
            raise SystemExit(f"the demo downloads did not reach their states: {app.dashboard.snapshot.own}")
        table = app.dashboard.downloads_pane.table
        table.focus()
        stalled = next(v for v in app.dashboard.snapshot.own if v.state is DownloadState.STALLED)
        table.move_cursor(row=table.get_row_index(f"own:{stalled.id}"))  # for the line that explains it
        await pilot.pause(0.3)
        print(app.save_screenshot(filename="demo-downloads.svg", path=str(HERE)))
        await pilot.resize_terminal(80, 24)
        await pilot.pause(1.5)
        print(app.save_screenshot(filename="demo-downloads-80x24.svg", path=str(HERE)))
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.5)

        await pilot.press("a", *"hftop-demo/gpt-micro")
        app.screen.query_one("#add-files").value = "*.safetensors config.json"
        await pilot.press("enter")
        message = app.screen.query_one("#add-message")
        for _ in range(100):
            await pilot.pause(0.1)
            if "to fetch" in str(message.render()):
                break
        print(app.save_screenshot(filename="add-download.svg", path=str(HERE)))


# Another program's download, as a training script would run it, and a second one of the same file.
OUTSIDE = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "hf_hub_download('hftop-demo/qwen-small', 'model.safetensors', cache_dir=sys.argv[1])"
)


async def shoot_stall(hub: DevHub, cache: Path) -> None:
    """Another program's download (over plain HTTP) held by the hub at 10 MiB, a second process waiting for its lock,
    and the details of the stall. Real clock: the verdicts need time to pass."""
    hub.set_fault(*parse_fault("hftop-demo/qwen-small/model.safetensors:stall_after=10485760"))
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_DOWNLOAD_TIMEOUT": "600", "HF_HUB_DISABLE_XET": "1"}
    holder = subprocess.Popen([sys.executable, "-c", OUTSIDE, str(cache)], env=env, stderr=subprocess.DEVNULL)
    time.sleep(3)
    waiter = subprocess.Popen([sys.executable, "-c", OUTSIDE, str(cache)], env=env, stderr=subprocess.DEVNULL)
    try:
        settings = Settings(cache_dir=cache, endpoint=hub.endpoint, refresh=1.0, stall_after=DEMO_STALL_AFTER)
        app = make_app(settings, Sources(counters=scripted_counters(), disk=fixed_disk))
        wanted = {DownloadState.STALLED, DownloadState.WAITING}
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(600):
                await pilot.pause(0.1)
                if {r.state for r in app.dashboard.snapshot.others} == wanted:
                    break
            else:
                raise SystemExit(f"no stall and waiter: {app.dashboard.snapshot.others}")
            app.dashboard.downloads_pane.table.focus()
            await pilot.pause(0.3)
            print(app.save_screenshot(filename="stall.svg", path=str(HERE)))
            await pilot.press("enter")
            await pilot.pause(1.5)
            print(app.save_screenshot(filename="stall-details.svg", path=str(HERE)))
    finally:
        for proc in (holder, waiter):
            proc.kill()
            proc.wait()


def main() -> None:
    with DevHub() as hub:
        cache = build_fixed_cache(hub.endpoint)
        asyncio.run(shoot(cache))
        scratch = Path(tempfile.mkdtemp(prefix="hftop-shots-"))
        try:
            shutil.copytree(cache, scratch / "hub", symlinks=True)
            asyncio.run(shoot_demo_downloads(hub, scratch / "hub"))
            asyncio.run(shoot_stall(hub, scratch / "stall"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
