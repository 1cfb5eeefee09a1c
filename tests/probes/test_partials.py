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


_HOLDER = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
own = [open(path, "ab") for path in sys.argv[2:]]
print("ready", flush=True)
time.sleep(120)
"""


def _holding(lock, *open_paths):
    """A process holding `lock` (as huggingface_hub holds a blob's lock) with `open_paths` open."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(lock), *map(str, open_paths)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_file_its_lock_holder_closed_before_the_rename_is_the_holders_and_a_take_over_is_not(tmp_path):
    """huggingface_hub closes a finished partial, then renames it, holding the lock throughout: between the two
    the file is its holder's (a look then once said "process gone"). A holder that writes another partial of
    the same blob took the lock over: the file is a dead writer's."""
    etag = "e" * 64
    blobs = tmp_path / "models--org--name" / "blobs"
    blobs.mkdir(parents=True)
    finished = blobs / f"{etag}.aaaa1111.incomplete"
    finished.write_bytes(b"x" * 4096)
    lock = tmp_path / ".locks" / "models--org--name" / f"{etag}.lock"
    lock.parent.mkdir(parents=True)

    holder = _holding(lock)
    try:
        [partial] = find_partials(tmp_path)
        assert [o.pid for o in partial.owners] == [holder.pid] and not partial.taken_over, partial
    finally:
        holder.kill()
        holder.wait()

    own = blobs / f"{etag}.bbbb2222.incomplete"
    taker = _holding(lock, own)
    try:
        dead = next(p for p in find_partials(tmp_path) if p.path == finished)
        assert dead.owners == () and dead.taken_over and dead.lock_holder == taker.pid, dead
        mine = next(p for p in find_partials(tmp_path) if p.path == own)
        assert [o.pid for o in mine.owners] == [taker.pid]
        through = tmp_path.parent / f"{tmp_path.name}-link"  # a cache reached through a symlink
        through.symlink_to(tmp_path)
        dead = next(p for p in find_partials(through) if p.path.name == finished.name)
        assert dead.owners == () and dead.taken_over, dead
    finally:
        taker.kill()
        taker.wait()
