"""Other programs' downloads found through their partial files: real downloader processes, real locks."""

from __future__ import annotations

import signal
import time

from tui.probes.partials import find_partials

MiB = 1024 * 1024


def _wait_for_partial(cache, real_bytes, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find_partials(cache)
        if found and found[0].real_bytes >= real_bytes:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no partial of {real_bytes} bytes appeared")


def test_a_running_download_is_found_with_its_process_its_lock_and_its_file_name(outside_downloader):
    proc, cache = outside_downloader
    [partial] = _wait_for_partial(cache, 10 * MiB)
    assert (partial.repo_type, partial.repo_id) == ("model", "hftop-demo/qwen-small")
    assert partial.file_name == "model.safetensors" and partial.expected_size == 90_000_000
    assert [o.pid for o in partial.owners] == [proc.pid]
    assert "snapshot_download" in partial.owners[0].command
    assert partial.lock_holder == proc.pid


def test_a_killed_download_leaves_an_orphan_with_no_owner_and_a_free_lock(outside_downloader):
    proc, cache = outside_downloader
    _wait_for_partial(cache, 10 * MiB)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [partial] = find_partials(cache)
    assert partial.owners == () and partial.lock_holder is None
    assert partial.real_bytes == 10 * MiB


def test_no_cache_and_no_partials_are_not_errors(tmp_path):
    assert find_partials(tmp_path / "missing") == ()
    (tmp_path / "models--org--name" / "blobs").mkdir(parents=True)
    assert find_partials(tmp_path) == ()


def test_the_finder_relists_a_folder_only_when_it_changed_and_still_sees_every_change(tmp_path):
    from tui.probes.partials import PartialFinder

    blobs = tmp_path / "models--org--name" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / ("a" * 40)).write_bytes(b"done")
    finder = PartialFinder()
    assert finder.find(tmp_path) == ()
    partial = blobs / ("b" * 64 + ".1234abcd.incomplete")
    partial.write_bytes(b"x" * 4096)
    [seen] = finder.find(tmp_path)
    assert seen.real_bytes == 4096 and seen.etag == "b" * 64
    with partial.open("ab") as f:  # growth without a change to the folder: still seen
        f.write(b"y" * 4096)
    assert finder.find(tmp_path)[0].real_bytes == 8192
    partial.rename(blobs / ("b" * 64))  # the download finished
    assert finder.find(tmp_path) == ()
