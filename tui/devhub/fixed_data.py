"""Fixed data for snapshot tests and the README screenshots: a cache with pinned times, a frozen clock,
scripted network counters and a fixed disk. Same inputs, same pictures."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, cast

from tui.core.throughput import CounterReading
from tui.devhub import demo_cache
from tui.probes.disk import DiskSpace

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from tui.app import HfTopApp

NOW = 1_795_000_000.0  # frozen "now" for every age shown
HOUR, DAY = 3600.0, 86400.0
AGES = {  # repo folder → how long ago its files were last touched
    "models--hftop-demo--llama-mini": 2 * HOUR,
    "models--hftop-demo--tiny-bert": 3 * DAY,
    "models--hftop-demo--whisper-small": 40 * DAY,
    "datasets--hftop-demo--squad-mini": 12 * DAY,
    "spaces--hftop-demo--chat-space": 150 * DAY,
    "models--hftop-demo--vit-huge": 20 * 60,
}
FIXED_CACHE = Path(tempfile.gettempdir()) / "hftop-fixed" / "hub"


def build_fixed_cache(endpoint: str, cache: Path = FIXED_CACHE) -> Path:
    """The demo cache at a fixed path, with every timestamp and the partial's size pinned."""
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    demo_cache.download_complete_repos(cache, endpoint)
    partial = demo_cache.leave_orphan_partial(cache, endpoint)
    with open(partial, "r+b") as f:
        f.truncate(demo_cache.ORPHAN_BYTES)
    demo_cache.add_corrupted_repo(cache)
    for top in cache.iterdir():
        when = NOW - AGES.get(top.name, 30 * DAY)
        for root, dirs, files in os.walk(top):
            for name in [*dirs, *files]:
                os.utime(os.path.join(root, name), (when, when), follow_symlinks=False)
        os.utime(top, (when, when))
    os.utime(cache, (NOW, NOW))
    return cache


def scripted_counters() -> Callable[[], CounterReading]:
    """Counters that look like a download ramping up and down on eth0, on a scripted clock."""
    rx = tx = 0
    ticks = count()

    def read() -> CounterReading:
        nonlocal rx, tx
        i = next(ticks)
        rx += int(4_000_000 * (1 + math.sin(i / 6)) + 200_000)
        tx += int(90_000 * (1 + math.cos(i / 5)))
        return CounterReading(
            at=float(i),
            received={"eth0": rx, "lo": 10 * i},
            sent={"eth0": tx, "lo": 10 * i},
            loopback=frozenset({"lo"}),
        )

    return read


def frozen_clock() -> float:
    return NOW


def fixed_disk(path: Path) -> DiskSpace:
    return DiskSpace(path=path, total=512_000_000_000, free=37_400_000_000)


async def settle(pilot: Pilot[None], network_samples: int = 60) -> None:
    """Wait for the first scan and network sample, then feed `network_samples` scripted readings."""
    app = cast("HfTopApp", pilot.app)  # the fixed data drives hftop's own app only
    while app.dashboard.monitor.scans < 1:
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()  # the first network sample too: no race with the picture
    for _ in range(network_samples):
        app.dashboard.snapshot_now()
        await app.workers.wait_for_complete()
    await pilot.pause()
