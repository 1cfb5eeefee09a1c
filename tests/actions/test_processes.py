"""Acting on other programs' downloads: never a file outside the cache, never one in use."""

from __future__ import annotations

import time

import pytest

from tui.actions.processes import ActionRefused, delete_orphan, stop_process
from tui.monitor.others import OtherDownloads

MiB = 1024 * 1024


def _partial(cache):
    deadline = time.monotonic() + 30
    while True:
        rows = [r for r in OtherDownloads(cache, stall_after=300).sample(time.time()) if r.repo_type != "local"]
        if rows and rows[0].progress.real_bytes >= 10 * MiB:
            return rows[0]
        assert time.monotonic() < deadline, "no partial appeared"
        time.sleep(0.1)


def test_a_file_in_use_is_not_deleted_then_stopping_its_process_makes_it_deletable(outside_downloader):
    proc, cache = outside_downloader
    row = _partial(cache)
    with pytest.raises(ActionRefused, match=f"Process {proc.pid} is using it"):
        delete_orphan(cache, row.key)
    stop_process(proc.pid)
    assert proc.wait(timeout=5) is not None
    assert delete_orphan(cache, row.key) == 10 * MiB
    assert [r for r in OtherDownloads(cache, stall_after=300).sample(time.time()) if r.repo_type != "local"] == []


def test_nothing_outside_the_cache_or_behind_a_link_is_deleted(tmp_path):
    cache = tmp_path / "hub"
    blobs = cache / "models--org--name" / "blobs"
    blobs.mkdir(parents=True)
    outside = tmp_path / "precious.incomplete"
    outside.write_bytes(b"x" * 100)
    with pytest.raises(ActionRefused, match="not a partial file inside"):
        delete_orphan(cache, str(outside))
    link = blobs / "abc.12345678.incomplete"
    link.symlink_to(outside)
    with pytest.raises(ActionRefused, match="not a partial file inside"):
        delete_orphan(cache, str(link))
    with pytest.raises(ActionRefused, match="not a partial file inside"):
        delete_orphan(cache, str(blobs / ".." / ".." / ".." / "precious.incomplete"))
    assert outside.exists() and link.is_symlink()


def test_stopping_a_process_that_is_gone_is_quiet():
    stop_process(2**22 + 12345)


def test_a_pid_that_now_runs_another_command_is_not_stopped():
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(ActionRefused, match="not that download any more"):
            stop_process(other.pid, "python -c snapshot_download(...)")
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
