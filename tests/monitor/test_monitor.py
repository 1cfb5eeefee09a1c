"""The monitor on real files: one snapshot a tick, the cache looked at when downloads change or time
passes, each download's history kept by its row key."""

from __future__ import annotations

import time
from pathlib import Path

from tui.core.downloads import DownloadState
from tui.devhub.fixed_data import fixed_disk, scripted_counters
from tui.monitor.monitor import CACHE_CHECK_INTERVAL, Monitor, Sources


def _monitor(cache: Path) -> Monitor:
    return Monitor(cache, stall_after=60, sources=Sources(counters=scripted_counters(), disk=fixed_disk))


def _leave_partial(cache: Path, etag: str = "ab" * 32) -> Path:
    blobs = cache / "models--org--name" / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    partial = blobs / f"{etag}.0badcafe.incomplete"
    partial.write_bytes(b"x" * 1000)
    return partial


def test_the_cache_is_scanned_once_until_it_changes(demo_cache):
    monitor = _monitor(demo_cache)
    try:
        first = monitor.look_at_cache()
        assert first is not None and first.info is not None and monitor.scans == 1
        assert monitor.look_at_cache() is None, "nothing changed: no scan"
        assert monitor.look_at_cache(force=True) is not None and monitor.scans == 2
        (demo_cache / "models--hftop-demo--tiny-bert" / "refs" / "other").write_text("0" * 40)
        assert monitor.look_at_cache() is not None and monitor.scans == 3
    finally:
        monitor.close()


def test_a_tick_asks_for_a_look_at_the_cache_when_downloads_change_or_time_passes(tmp_path):
    cache = tmp_path / "hub"
    cache.mkdir()
    monitor = _monitor(cache)
    try:
        now = time.time()
        assert monitor.tick(now).look_at_cache, "the first look"
        assert not monitor.tick(now + 1).look_at_cache, "nothing changed, little time passed"
        _leave_partial(cache)
        snapshot = monitor.tick(now + 2)
        assert snapshot.look_at_cache, "a download appeared"
        assert [d.state for d in snapshot.others] == [DownloadState.ORPHANED]
        assert not monitor.tick(now + 3).look_at_cache
        assert monitor.tick(now + 3 + CACHE_CHECK_INTERVAL).look_at_cache, "a while passed"
    finally:
        monitor.close()


def test_each_download_keeps_its_speeds_and_verdicts_by_row_key(tmp_path):
    cache = tmp_path / "hub"
    partial = _leave_partial(cache)
    monitor = _monitor(cache)
    try:
        now = time.time()
        for i in range(4):
            snapshot = monitor.tick(now + i)
        (row,) = snapshot.others
        key = f"partial:{partial}"
        assert snapshot.row(key) == row
        history = snapshot.history(key)
        assert history.speeds == (0.0, 0.0, 0.0, 0.0)
        assert [(c.at, c.state) for c in history.verdicts] == [(now, DownloadState.ORPHANED)]
        assert snapshot.network is not None and snapshot.disk == fixed_disk(cache)
        partial.unlink()
        gone = monitor.tick(now + 5)
        assert gone.row(key) is None and not gone.histories, "a download that is gone is forgotten"
    finally:
        monitor.close()
