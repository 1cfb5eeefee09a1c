"""Verdicts on other programs' downloads, from real huggingface_hub processes against the devhub:
bytes on the socket between 10 MiB steps, network idle, a second process waiting on the lock,
a local_dir download, a disk too small for the rest, and a writer hftop cannot see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tui.core.downloads import DownloadState, ExternalDownload
from tui.devhub.faults import Fault
from tui.devhub.server import DevHub
from tui.monitor.others import OtherDownloads
from tui.probes.partials import find_partials

MiB = 1024 * 1024
REPO = "hftop-demo/qwen-small"
FILE = "model.safetensors"
SIZE = 90_000_000
RATE_WINDOW_SECONDS = 11
"""Past the window hftop's speeds are measured over."""

# hf_hub_download of one file, as a training script would call it (no tree listing left behind), with
# the endpoint in HF_ENDPOINT as users set a mirror.
ONE_FILE = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3] or None, local_dir=sys.argv[4] or None)"
)


PLAIN_HTTP = {"HF_HUB_DISABLE_XET": "1"}
"""The environment that makes huggingface_hub fetch a Xet-backed file over plain HTTP."""


def _start(
    devhub,
    cache: Path | None = None,
    local_dir: Path | None = None,
    xet: bool = False,
    repo: str = REPO,
    stderr: int = subprocess.DEVNULL,
    timeout: float = 600,
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", ONE_FILE, repo, FILE, str(cache or ""), str(local_dir or "")],
        env={
            **os.environ,
            "HF_HUB_DOWNLOAD_TIMEOUT": str(timeout),
            "HF_ENDPOINT": devhub.endpoint,
            **({} if xet else PLAIN_HTTP),
        },
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def _wait_for_the_first_step(cache: Path) -> None:
    """Until the held download has written its first 10 MiB."""
    deadline = time.monotonic() + 30
    while not any(p.real_bytes >= 10 * MiB for p in find_partials(cache)):
        assert time.monotonic() < deadline, "the outside download wrote nothing"
        time.sleep(0.1)


def _until(predicate, others: OtherDownloads, timeout: float = 30.0, every: float = 0.3, local: bool = False):
    """Sample until `predicate(rows)` holds; returns those rows. Other local_dir downloads on the
    machine are left out, except in the test about them."""
    deadline = time.monotonic() + timeout
    while True:
        rows = others.sample(time.time())
        if not local:
            rows = tuple(r for r in rows if r.repo_type != "local")
        if predicate(rows):
            return rows
        assert time.monotonic() < deadline, f"not seen within {timeout} s: {rows}"
        time.sleep(every)


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def test_bytes_on_the_socket_keep_a_slow_download_alive_and_give_its_speed(fresh_devhub, tmp_path, processes):
    # 1 MB/s: the partial file grows by a 10 MiB step only every ~10 s, yet a 4 s threshold never trips.
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=1_000_000))
    cache = tmp_path / "hub"
    processes.append(proc := _start(fresh_devhub, cache))
    others = OtherDownloads(cache, stall_after=4.0)
    try:
        _until(lambda rows: any(r.owner_pid == proc.pid for r in rows), others)
        states, rows = set(), ()
        end = time.monotonic() + 9
        while time.monotonic() < end:
            rows = others.sample(time.time())
            states |= {r.state for r in rows}
            time.sleep(0.5)
        [row] = rows
        assert states == {DownloadState.DOWNLOADING}, states
        assert row.progress.rate == pytest.approx(1_000_000, rel=0.25)
        assert "arriving on its" in row.evidence[0]
        assert (row.file_name, row.progress.expected_size) == (FILE, SIZE), "asked of the endpoint: no tree listing"
    finally:
        others.close()


def test_network_idle_lock_waiter_and_doctor(outside_downloader, fresh_devhub, processes):
    holder, cache = outside_downloader
    _wait_for_the_first_step(cache)
    processes.append(waiter := _start(fresh_devhub, cache))

    others = OtherDownloads(cache, stall_after=2.0)
    try:
        rows = _until(
            lambda rows: (
                any(r.state is DownloadState.WAITING for r in rows)
                and any(r.state is DownloadState.STALLED for r in rows)
            ),
            others,
        )
    finally:
        others.close()
    waiting = next(r for r in rows if r.state is DownloadState.WAITING)
    stalled = next(r for r in rows if r.state is DownloadState.STALLED)
    assert (waiting.owner_pid, waiting.waiting_for, waiting.file_name) == (waiter.pid, holder.pid, FILE)
    assert f"PID {holder.pid} is fetching the same file: 10.5 MB of 90.0 MB, stalled" in waiting.evidence
    assert stalled.owner_pid == holder.pid
    assert stalled.evidence[0].startswith("network idle: ") and "nothing received for" in stalled.evidence[0]
    assert waiting.transport is None and stalled.transport is not None, "the holder's transport is not the waiter's"

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui",
            "doctor",
            "--json",
            "--watch",
            "1",
            "--stall-after",
            str(2 / 60),
            "--cache-dir",
            str(cache),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr
    verdicts = {d["verdict"]: d for d in json.loads(out.stdout)["downloads"]}
    assert verdicts["waiting for lock"]["process"]["pid"] == waiter.pid
    assert verdicts["waiting for lock"]["waiting_for_pid"] == holder.pid
    assert "network idle" in verdicts["stalled"]["evidence"][0]


def test_a_download_whose_retries_get_no_further_is_stalled(fresh_devhub, tmp_path, processes):
    """A connection held open past 15 MiB: huggingface_hub times out and asks again from its last 10 MiB
    step, and each retry brings the same 5 MiB again before it stops where the last one did. Bytes arrive,
    none of them new: stalled, and the evidence says so (it read "downloading" until huggingface_hub gave
    up, its Done counting every retry's bytes: 34 MB of a file that never got past 15.7 MB)."""
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=3_000_000, stall_after=15 * MiB))
    processes.append(proc := _start(fresh_devhub, tmp_path / "hub", timeout=3))
    others = OtherDownloads(tmp_path / "hub", stall_after=8.0)
    try:
        rows = _until(
            lambda rows: any(r.owner_pid == proc.pid and r.state is DownloadState.STALLED for r in rows),
            others,
            timeout=40,
            every=1.0,
        )
    finally:
        others.close()
    assert proc.poll() is None, "huggingface_hub still retries"
    [row] = [r for r in rows if r.owner_pid == proc.pid]
    assert row.progress.real_bytes == 10 * MiB
    assert row.progress.done <= 15 * MiB + 4096
    assert row.evidence[0].startswith("no byte past 15.7 MB for 8s: bytes arrive, but each retry fetches again"), (
        row.evidence
    )


def test_local_dir_download_is_found_through_open_files(fresh_devhub, tmp_path, processes):
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(stall_after=10 * MiB))
    local = tmp_path / "checkpoints"
    processes.append(proc := _start(fresh_devhub, local_dir=local))
    others = OtherDownloads(tmp_path / "hub", stall_after=300)
    try:
        rows = _until(
            lambda rows: any(r.progress.real_bytes >= 10 * MiB and r.owner_pid == proc.pid for r in rows),
            others,
            local=True,
        )
        rows = [r for r in rows if r.owner_pid == proc.pid]
    finally:
        others.close()
    [row] = rows
    assert (row.repo_type, row.repo_id, row.file_name, row.owner_pid) == ("local", str(local), FILE, proc.pid)
    assert row.label == f"{local} (local dir)"
    assert len(row.etag) == 64 and "." not in row.etag, "the etag without the process-unique suffix"
    assert row.key.startswith(str(local / ".cache" / "huggingface" / "download"))

    def doctor_lists(*flags: str) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-m", "tui", "doctor", "--json", "--watch", "0", "--cache-dir", str(tmp_path / "hub"), *flags],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return [d["partial_file"] for d in json.loads(out.stdout)["downloads"]]

    assert row.key not in doctor_lists(), "--cache-dir bounds what doctor lists"
    assert row.key in doctor_lists("--local-dirs")


@pytest.fixture
def small_disk(tmp_path):
    """A 40 MiB filesystem of its own (tmpfs, which needs root: skipped otherwise)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_remaining_bytes_larger_than_the_free_space(fresh_devhub, small_disk, processes):
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(stall_after=10 * MiB))
    cache = small_disk / "hub"
    processes.append(proc := _start(fresh_devhub, cache))
    others = OtherDownloads(cache, stall_after=300)
    try:
        # Told at once (the name and size come with the first look); checked once the held step is written.
        rows = _until(
            lambda rows: any(r.state is DownloadState.NO_SPACE and r.progress.real_bytes >= 10 * MiB for r in rows),
            others,
        )
    finally:
        others.close()
    [row] = rows
    assert row.owner_pid == proc.pid
    assert row.evidence[0].startswith(f"{(SIZE - 10 * MiB) / 1e6:.1f} MB left to fetch")
    out = subprocess.run(
        [sys.executable, "-m", "tui", "doctor", "--json", "--watch", "0.2", "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and json.loads(out.stdout)["downloads"][0]["verdict"] == "disk full"


WRITER_ELSEWHERE = """
import sys, time
path = sys.argv[1]
for _ in range(200):
    with open(path, "ab") as f:   # opened and closed each time: no local process keeps it open
        f.write(b"x" * 65536)
    time.sleep(0.1)
"""


def test_a_file_growing_with_no_local_writer_has_an_unknown_owner(tmp_path, processes):
    # What a download on another machine sharing this cache (NFS) looks like from here.
    blobs = tmp_path / "hub" / "models--org--shared" / "blobs"
    blobs.mkdir(parents=True)
    partial = blobs / f"{'a' * 64}.1a2b3c4d.incomplete"
    partial.write_bytes(b"")
    others = OtherDownloads(tmp_path / "hub", stall_after=300)
    try:
        processes.append(subprocess.Popen([sys.executable, "-c", WRITER_ELSEWHERE, str(partial)]))
        rows = _until(lambda rows: rows and rows[0].state is DownloadState.OWNER_UNKNOWN, others, timeout=15)
    finally:
        others.close()
    assert rows[0].owner_pid is None
    assert "it grew while no local process had it open" in rows[0].evidence


@pytest.mark.parametrize("xet", [False, True], ids=["plain-http", "xet"])
def test_a_slow_tail_then_the_end(fresh_devhub, tmp_path, processes, xet):
    # 27 MB at 4 MB/s, then the last 10 % at 100 kB/s.
    fresh_devhub.set_fault(
        "hftop-demo/whisper-small/model.safetensors",
        Fault(throttle=4_000_000, tail_rate=100_000, tail_fraction=0.1),
    )
    cache = tmp_path / "hub"
    proc = subprocess.Popen(
        [sys.executable, "-c", ONE_FILE, "hftop-demo/whisper-small", FILE, str(cache), ""],
        env={**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint, **({} if xet else PLAIN_HTTP)},
    )
    processes.append(proc)
    others = OtherDownloads(cache, stall_after=60)
    try:
        rows = _until(lambda rows: rows and rows[0].state is DownloadState.SLOW_TAIL, others, timeout=40)
    finally:
        others.close()
    assert rows[0].owner_pid == proc.pid
    # Still moving, at a fraction of the 4 MB/s before (the 10 s window still holds some of it).
    assert 50_000 < rows[0].progress.rate < 1_000_000 and rows[0].progress.eta is not None
    assert "well under its own average speed" in rows[0].evidence


def test_a_dropped_connection_is_retried_and_never_called_stalled(fresh_devhub, tmp_path, processes):
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=10_000_000, drop_after=30 * MiB, drop_times=1))
    cache = tmp_path / "hub"
    processes.append(proc := _start(fresh_devhub, cache))
    others = OtherDownloads(cache, stall_after=5)
    states = set()
    try:
        _until(lambda rows: bool(rows), others)
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the download did not finish"
            states |= {r.state for r in others.sample(time.time())}
            time.sleep(0.3)
        assert [r for r in others.sample(time.time()) if r.repo_type != "local"] == []
    finally:
        others.close()
    assert proc.returncode == 0
    assert states <= {DownloadState.DOWNLOADING, DownloadState.FINISHING}, states


def _can_watch_opens() -> bool:
    from tui.probes.fanotify import OpenWatch

    watch = OpenWatch()
    try:
        return watch.available
    finally:
        watch.close()


@pytest.mark.skipif(not _can_watch_opens(), reason="fanotify needs CAP_SYS_ADMIN; hftop then samples open files")
def test_a_lock_waiter_is_found_within_5_s_every_time_under_load(outside_downloader, fresh_devhub, processes):
    """Six idle Python processes started after the waiter and two busy loops: a fresh monitor (as
    `hftop doctor` starts) names the waiter within 5 s, 20 times in a row."""
    from tui.monitor.monitor import Monitor

    holder, cache = outside_downloader
    _wait_for_the_first_step(cache)
    processes.append(waiter := _start(fresh_devhub, cache))
    time.sleep(1.0)  # the waiter polls the lock by now
    for code in ["import time; time.sleep(600)"] * 6 + ["while True: pass"] * 2:
        processes.append(subprocess.Popen([sys.executable, "-c", code]))
    took = []
    for _ in range(20):
        monitor = Monitor(cache, stall_after=300)
        try:
            start = time.monotonic()
            while True:
                rows = monitor.tick(time.time()).others
                if any(r.state is DownloadState.WAITING and r.owner_pid == waiter.pid for r in rows):
                    break
                assert time.monotonic() - start < 5, f"waiter not found within 5 s (runs so far: {took})"
                time.sleep(max(0.0, 1.0 - (time.monotonic() - start) % 1.0))
            took.append(round(time.monotonic() - start, 2))
        finally:
            monitor.close()
    assert holder.poll() is None


# A fresh monitor per run, as `hftop doctor` starts: seconds until it names the waiter, one line per run.
FIND_THE_WAITER = """
import sys, time
from tui.core.downloads import DownloadState
from tui.monitor.monitor import Monitor
from tui.probes.fanotify import OpenWatch
cache, waiter, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("fanotify" if OpenWatch().available else "sampling", flush=True)
for _ in range(runs):
    monitor = Monitor(cache, stall_after=300)
    start = time.monotonic()
    while time.monotonic() - start < 15:
        rows = monitor.tick(time.time()).others
        if any(r.state is DownloadState.WAITING and r.owner_pid == waiter for r in rows):
            break
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start) % 1.0))
    print(round(time.monotonic() - start, 2), flush=True)
    monitor.close()
"""


def test_a_lock_waiter_is_found_within_5_s_every_time_under_load_without_fanotify(
    outside_downloader, fresh_devhub, processes
):
    """As a user runs hftop, without CAP_SYS_ADMIN (no fanotify): the waiter is still found within 5 s, 20 runs
    in a row, with six idle Python processes started after it and two busy loops."""
    holder, cache = outside_downloader
    _wait_for_the_first_step(cache)
    processes.append(waiter := _start(fresh_devhub, cache))
    time.sleep(1.0)  # the waiter polls the lock by now
    for code in ["import time; time.sleep(600)"] * 6 + ["while True: pass"] * 2:
        processes.append(subprocess.Popen([sys.executable, "-c", code]))
    # root keeps its uid but loses the capability, as an unprivileged user has none
    drop = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"] if os.geteuid() == 0 else []
    found = subprocess.run(
        [*drop, sys.executable, "-c", FIND_THE_WAITER, str(cache), str(waiter.pid), "20"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    how, *took = found.stdout.split()
    assert how == "sampling", found.stderr
    assert len(took) == 20 and max(map(float, took)) < 5, took
    assert holder.poll() is None


@pytest.mark.parametrize("xet", [False, True], ids=["plain-http", "xet"])
def test_a_stopped_writer_is_stalled_at_once_and_a_dead_one_keeps_its_files_name(
    fresh_devhub, tmp_path, processes, xet
):
    """SIGSTOP: no progress is coming, whatever the threshold; then kill -9: "process gone", with the
    name and size the live look learnt (no tree listing names them)."""
    import signal

    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=2_000_000))
    cache = tmp_path / "hub"
    processes.append(proc := _start(fresh_devhub, cache, xet=xet))
    others = OtherDownloads(cache, stall_after=300)
    try:
        _until(lambda rows: any(r.owner_pid == proc.pid and r.file_name == FILE for r in rows), others)
        os.kill(proc.pid, signal.SIGSTOP)
        rows = _until(lambda rows: any(r.state is DownloadState.STALLED for r in rows), others, timeout=10)
        (stopped,) = rows
        assert stopped.evidence[0].startswith(f"its process {proc.pid} is stopped (state T")
        proc.kill()
        proc.wait()
        rows = _until(lambda rows: any(r.state is DownloadState.ORPHANED for r in rows), others, timeout=10)
        (gone,) = rows
        assert (gone.file_name, gone.progress.expected_size) == (FILE, SIZE)
    finally:
        others.close()


def test_a_killed_writer_not_yet_reaped_is_gone_at_once_never_an_unknown_owner(fresh_devhub, tmp_path, processes):
    """kill -9 from a shell that has not reaped it yet: a zombie holds no lock, so the lock holders read a
    moment before are read again; its file is "process gone" at the next look, never "owner unknown"."""
    import signal

    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=2_000_000))
    cache = tmp_path / "hub"
    processes.append(proc := _start(fresh_devhub, cache))
    others = OtherDownloads(cache, stall_after=300)
    try:
        _until(lambda rows: any(r.owner_pid == proc.pid and r.lock_holder == proc.pid for r in rows), others)
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 2
        while (state := psutil.Process(proc.pid).status()) != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        seen = [r.state for r in others.sample(time.time())]
        assert seen == [DownloadState.ORPHANED], seen
        proc.wait(timeout=10)
    finally:
        others.close()


EIGHT = [
    ("hftop-demo/mistral-nano", "model.safetensors"),
    ("hftop-demo/phi-tiny", "model.safetensors"),
    ("hftop-demo/qwen-small", "model.safetensors"),
    ("hftop-demo/bloom-mini", "model.safetensors"),
    ("hftop-demo/llama-mini", "model-00001-of-00002.safetensors"),
    ("hftop-demo/llama-mini", "model-00002-of-00002.safetensors"),
    ("hftop-demo/whisper-small", "model.safetensors"),
    ("hftop-demo/tiny-bert", "model.safetensors"),
]
# Eight files at once in one process, as snapshot_download's workers or from_pretrained's shards fetch them.
EIGHT_AT_ONCE = (
    "import sys; from concurrent.futures import ThreadPoolExecutor; from huggingface_hub import hf_hub_download\n"
    "pairs = [a.split('=', 1) for a in sys.argv[2:]]\n"
    "with ThreadPoolExecutor(8) as pool:\n"
    "    list(pool.map(lambda p: hf_hub_download(p[0], p[1], cache_dir=sys.argv[1]), pairs))\n"
)


def test_eight_files_at_once_in_one_process_each_get_their_own_speed(fresh_devhub, tmp_path, processes):
    """All eight at 100 kB/s stay at 0 B on disk (plain HTTP writes 10 MiB steps): none is stalled, and each
    shows its own speed, not the process's, nor 0."""
    rate = 100_000
    fresh_devhub.set_fault("hftop-demo/*", Fault(throttle=rate))
    cache = tmp_path / "hub"
    argv = [sys.executable, "-c", EIGHT_AT_ONCE, str(cache), *(f"{repo}={path}" for repo, path in EIGHT)]
    env = {**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint, **PLAIN_HTTP}
    processes.append(proc := subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    others = OtherDownloads(cache, stall_after=8.0)
    try:
        _until(lambda rows: len([r for r in rows if r.owner_pid == proc.pid]) == 8, others)
        end = time.monotonic() + 14
        while time.monotonic() < end:
            rows = [r for r in others.sample(time.time()) if r.owner_pid == proc.pid]
            assert not [r.state for r in rows if r.state is DownloadState.STALLED], [r.evidence for r in rows]
            time.sleep(1.0)
    finally:
        others.close()
    assert len(rows) == 8
    for row in rows:
        assert row.progress.rate == pytest.approx(rate, rel=0.25), (row.file_name, row.progress.rate, row.evidence)
        assert row.progress.done > row.progress.real_bytes, "bytes received count before they are written"


def test_eight_xet_files_at_once_each_get_their_own_speed_or_wait_their_turn(fresh_devhub, tmp_path, processes):
    """hf_xet pools its connections for all eight and fetches a few terms at once, first queued first, over
    one 2 MB/s line: most files wait their turn. Each file's speed, from hf_xet's log of its terms under way,
    is within 25% of what the devhub sends for it over the last 10 s, and the files it sends nothing for are
    queued, not stalled. Looks where a file's pace changed within those 10 s are left out (the speed shown
    lags a change by seconds). Up to a fifth of the looks may be wrong: when several files' term blocks
    arrive within a millisecond, hf_xet's two threads may begin their fetches in another order than they
    logged them (seen in 1 run of 5: one file for 14 s), and hftop follows the log."""
    link = 2_000_000
    fresh_devhub.set_fault("hftop-demo/*", Fault(throttle=link, link=True))
    cache = tmp_path / "hub"
    argv = [sys.executable, "-c", EIGHT_AT_ONCE, str(cache), *(f"{repo}={path}" for repo, path in EIGHT)]
    env = {**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint}
    processes.append(proc := subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    others = OtherDownloads(cache, stall_after=8.0)
    seen = []  # (when, {file: its row}, {file: bytes the devhub sent for it})
    try:
        _until(lambda rows: len([r for r in rows if r.owner_pid == proc.pid]) == 8, others)
        start = time.monotonic()
        while time.monotonic() < start + 40:
            rows = {(r.repo_id, r.file_name): r for r in others.sample(time.time()) if r.owner_pid == proc.pid}
            assert not [r.evidence for r in rows.values() if r.state is DownloadState.STALLED]
            seen.append((time.monotonic(), rows, {f: fresh_devhub.bytes_sent(*f, "xet") for f in EIGHT}))
            time.sleep(1.0)
    finally:
        others.close()

    def sent_at(when: float) -> tuple[float, dict[tuple[str, str], int]] | None:
        return next(((t, sent) for t, _, sent in seen if abs(t - when) <= 0.6), None)

    compared, wrong, queued = 0, [], set()
    for when, rows, sent in seen:
        earlier, middle = sent_at(when - 10), sent_at(when - 5)
        if earlier is None or middle is None:
            continue
        (since, then), (_, halfway) = earlier, middle
        for f, row in rows.items():
            first, second = halfway[f] - then[f], sent[f] - halfway[f]
            if abs(first - second) > 0.15 * max(first, second):
                continue  # it began, ended, gained or lost fetches in the last 10 s: the speed shown lags
            truth = (sent[f] - then[f]) / (when - since)
            compared += 1
            if truth == 0:
                queued.add(f)
                if row.state is not DownloadState.QUEUED:
                    wrong.append((round(when - start), f, row.state, row.evidence))
            elif row.progress.rate is None or abs(row.progress.rate - truth) > 0.25 * truth:
                wrong.append((round(when - start), f, truth, row.progress.rate, row.evidence[:1]))
    assert compared >= 100, compared
    assert len(wrong) <= compared // 5, wrong
    assert len(queued) >= 3
    queued_row = next(r for _, rows, _ in reversed(seen) for f, r in rows.items() if r.state is DownloadState.QUEUED)
    assert queued_row.evidence[0].startswith("its turn has not come: hf_xet fetches"), queued_row.evidence


def test_a_connection_reused_after_another_file_still_counts_for_the_file_it_now_carries(
    fresh_devhub, tmp_path, processes
):
    """Two workers: one fetches a 14 MB file at full speed, then its next file on the same connection, which
    then holds more than that file plus a step. Its bytes still count (both files read half their speed)."""
    rate = 200_000
    for repo in ("hftop-demo/qwen-small", "hftop-demo/bloom-mini"):
        fresh_devhub.set_fault(f"{repo}/*", Fault(throttle=rate))
    files = [("hftop-demo/tiny-bert", FILE), ("hftop-demo/qwen-small", FILE), ("hftop-demo/bloom-mini", FILE)]
    cache = tmp_path / "hub"
    two_at_once = EIGHT_AT_ONCE.replace("ThreadPoolExecutor(8)", "ThreadPoolExecutor(2)")
    argv = [sys.executable, "-c", two_at_once, str(cache), *(f"{repo}={path}" for repo, path in files)]
    env = {**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint, **PLAIN_HTTP}
    processes.append(proc := subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    others = OtherDownloads(cache, stall_after=8.0)
    try:
        _until(lambda rows: {r.repo_id for r in rows if r.owner_pid == proc.pid} == {files[1][0], files[2][0]}, others)
        time.sleep(RATE_WINDOW_SECONDS)
        rows = [r for r in others.sample(time.time()) if r.owner_pid == proc.pid]
    finally:
        others.close()
    assert fresh_devhub.bytes_sent("hftop-demo/tiny-bert", FILE, "http") == 14_000_000
    assert len(rows) == 2
    for row in rows:
        assert row.progress.rate == pytest.approx(rate, rel=0.25), (row.repo_id, row.progress.rate, row.evidence)


def test_eight_xet_files_at_once_show_all_their_process_receives_past_the_first_10_mib(
    fresh_devhub, tmp_path, processes
):
    """At 1 MB/s a file, hf_xet's pooled connections soon hold more than any file on disk plus a step:
    what they bring still counts (it read 0 B/s for every file once one connection passed 10 MiB). The
    files' speeds add up to what the devhub sends for all of them."""
    fresh_devhub.set_fault("hftop-demo/*", Fault(throttle=1_000_000))
    cache = tmp_path / "hub"
    argv = [sys.executable, "-c", EIGHT_AT_ONCE, str(cache), *(f"{repo}={path}" for repo, path in EIGHT)]
    env = {**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint}
    processes.append(proc := subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    others = OtherDownloads(cache, stall_after=8.0)
    seen = []  # (when, the sum of the files' speeds, bytes the devhub sent for all of them)
    try:
        _until(lambda rows: len([r for r in rows if r.owner_pid == proc.pid]) == 8, others)
        start = time.monotonic()
        while time.monotonic() < start + 30:
            rows = [r for r in others.sample(time.time()) if r.owner_pid == proc.pid]
            assert not [r.state for r in rows if r.state is DownloadState.STALLED], [r.evidence for r in rows]
            sent = sum(fresh_devhub.bytes_sent(repo, path, "xet") for repo, path in EIGHT)
            seen.append((time.monotonic(), sum(r.progress.rate or 0 for r in rows), sent))
            time.sleep(1.0)
    finally:
        others.close()
    compared = 0
    for when, shown, sent in seen:
        earlier = [(t, b) for t, _, b in seen if when - 11 <= t <= when - 9]
        if when - seen[0][0] < 12 or not earlier:
            continue
        truth = (sent - earlier[0][1]) / (when - earlier[0][0])
        assert shown == pytest.approx(truth, rel=0.3), (when - seen[0][0], shown, truth)
        compared += 1
    assert compared >= 10


def test_a_xet_download_has_its_speed_from_its_sockets_while_the_file_grows_in_whole_terms(
    fresh_devhub, tmp_path, processes
):
    """hf_xet fetches 16 MiB terms on several connections and writes each once whole: at 5 MB/s the
    file stands still for seconds at a time. A 4 s threshold never trips, the speed is the link's, and
    the bytes done and the ETA count what arrived, not what is on disk."""
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=5_000_000))
    cache = tmp_path / "hub"
    processes.append(proc := _start(fresh_devhub, cache, xet=True))
    others = OtherDownloads(cache, stall_after=4.0)
    try:
        _until(lambda rows: any(r.owner_pid == proc.pid for r in rows), others)
        states, rows, still = set(), (), 0
        end = time.monotonic() + 10
        while time.monotonic() < end:
            before = rows[0].progress.real_bytes if rows else None
            rows = others.sample(time.time())
            states |= {r.state for r in rows}
            still += before is not None and rows[0].progress.real_bytes == before
            time.sleep(0.5)
        [row] = rows
    finally:
        others.close()
    assert states == {DownloadState.DOWNLOADING}, states
    assert still >= 8, "the file stood still between terms"
    assert row.progress.rate == pytest.approx(5_000_000, rel=0.25)
    assert row.transport is not None and row.transport[0] == "Xet" and "hf_xet" in row.transport[1]
    assert row.progress.done > row.progress.real_bytes, "bytes received, not yet written, count as done"
    assert row.progress.eta == pytest.approx((SIZE - row.progress.done) / 5_000_000, rel=0.3)
    assert not any("get_reconstruction_v2" in line for line in row.evidence), "the v1 fallback is routine"


def test_a_xet_stall_is_told_by_idle_sockets_and_a_still_file(fresh_devhub, tmp_path, processes):
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=10_000_000, stall_after=40 * MiB))
    cache = tmp_path / "hub"
    processes.append(proc := _start(fresh_devhub, cache, xet=True))
    row = _the_xet_stall(cache, proc)
    assert row.progress.done <= 40 * MiB + 1 * MiB


def _the_xet_stall(cache: Path, proc: subprocess.Popen) -> ExternalDownload:
    """Its row once stalled (4 s threshold), told over Xet by its idle sockets."""
    others = OtherDownloads(cache, stall_after=4.0)
    try:
        rows = _until(lambda rows: any(r.state is DownloadState.STALLED for r in rows), others, timeout=40)
    finally:
        others.close()
    [row] = rows
    assert row.owner_pid == proc.pid and row.transport is not None and row.transport[0] == "Xet"
    assert row.evidence[0].startswith("network idle:"), row.evidence
    return row


# A training script that downloads while it keeps a core busy with work of its own.
BUSY_AND_DOWNLOADING = (
    "import sys, threading; from huggingface_hub import hf_hub_download\n"
    "def work():\n"
    "    while True: sum(range(10_000))\n"
    "threading.Thread(target=work, daemon=True).start()\n"
    "hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])\n"
)


def test_a_xet_stall_in_a_process_busy_with_other_work_is_still_a_stall(fresh_devhub, tmp_path, processes):
    """Only hf_xet's own threads' work keeps a Xet download from being called stalled: a script busy
    with its own work while its download hangs is stalled all the same."""
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=10_000_000, stall_after=40 * MiB))
    cache = tmp_path / "hub"
    argv = [sys.executable, "-c", BUSY_AND_DOWNLOADING, REPO, FILE, str(cache)]
    env = {**os.environ, "HF_ENDPOINT": fresh_devhub.endpoint}
    processes.append(proc := subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    row = _the_xet_stall(cache, proc)
    assert row.owner_cpu is not None and row.owner_cpu > 50, "the process works, on something else"


# hf_hub_download once the line on its standard input comes: imports are done before the CPU is starved.
ON_CUE = (
    "import sys; from huggingface_hub import hf_hub_download; import hf_xet; sys.stdin.readline(); "
    "hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])"
)


def test_a_xet_download_with_no_socket_to_watch_on_a_starved_cpu(tmp_path, processes):
    """hf_xet reads a local:// CAS (no socket carries the file, as for a writer whose sockets are out of sight)
    at nice 19 under three busy loops: it decodes for seconds with nothing to show, then writes the file in one
    long write whose mtime stays at its start. Never stalled while its process works; its speed is the
    file's growth (it read 0 from the idle API connection), and the evidence says where the bytes come from."""
    with DevHub(local_cas=True) as hub:
        cache = tmp_path / "hub"
        argv = ["nice", "-n", "19", sys.executable, "-c", ON_CUE, REPO, FILE, str(cache)]
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "home")}
        processes.append(proc := subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL))
        assert hub.xet is not None
        hub.xet.file_hash(hub.file(REPO, FILE))  # its xorbs made before the clock starts
        time.sleep(3)
        processes.extend(subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3))
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        others = OtherDownloads(cache, stall_after=5.0)
        sizes: list[tuple[float, int]] = []
        judged = []
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                rows = [r for r in others.sample(time.time()) if r.owner_pid == proc.pid]
                if rows:
                    [row] = rows
                    sizes.append((time.monotonic(), row.progress.real_bytes))
                    assert row.state is not DownloadState.STALLED, (sizes[-1], row.evidence)
                    # Its true pace: the growth since the test first saw it written, over at least 2 s.
                    first = next(((at, n) for at, n in sizes if n > 0), None)
                    if first and sizes[-1][0] - first[0] >= 2 and row.progress.real_bytes < SIZE:
                        true_rate = (sizes[-1][1] - first[1]) / (sizes[-1][0] - first[0])
                        judged.append((row.progress.rate, true_rate, row.evidence[0]))
                time.sleep(0.5)
        finally:
            others.close()
    assert proc.wait(timeout=60) == 0
    assert any(n == 0 for _, n in sizes[:3]), "watched from before its first write"
    assert len(judged) >= 2, [(round(at - sizes[0][0], 1), n // MiB) for at, n in sizes]
    for rate, true_rate, evidence in judged:
        assert rate == pytest.approx(true_rate, rel=0.3), judged
        assert "its bytes come some other way" in evidence


def test_a_xet_download_bigger_than_the_free_space(fresh_devhub, small_disk, processes):
    """Told from the free space while it runs, before the disk fills: hf_xet 1.8 logs nothing of its
    "No space left on device", which reaches only the program, and huggingface_hub then deletes the file:
    the row stays, failed, with what was last seen."""
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=10_000_000))
    cache = small_disk / "hub"
    processes.append(proc := _start(fresh_devhub, cache, xet=True, stderr=subprocess.PIPE))
    others = OtherDownloads(cache, stall_after=300)
    try:
        rows = _until(lambda rows: any(r.state is DownloadState.NO_SPACE for r in rows), others)
        [row] = rows
        assert row.owner_pid == proc.pid and row.transport is not None and row.transport[0] == "Xet"
        assert "left to fetch" in row.evidence[0]
        assert proc.poll() is None, "told while it still runs"
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode != 0 and b"No space left on device" in stderr
        assert not find_partials(cache), "huggingface_hub deleted its partial file"
        [failed] = others.sample(time.time())
        assert failed.state is DownloadState.FAILED and failed.owner_pid is None and failed.file_name == FILE
        assert "with no blob in its place" in failed.evidence[0]
        assert failed.evidence[2].startswith("last seen disk full: ") and "left to fetch" in failed.evidence[2]
        assert failed.evidence[3] == f"process {proc.pid} has ended"
    finally:
        others.close()


def test_a_take_over_leaves_the_dead_holders_file_an_orphan_never_the_new_holders_stall(
    outside_downloader, fresh_devhub, processes
):
    """The holder is killed; the process that waited for the lock takes it and writes a partial of its
    own. The dead holder's file is "process gone" at once, never blamed on the new holder."""
    holder, cache = outside_downloader
    _wait_for_the_first_step(cache)
    processes.append(waiter := _start(fresh_devhub, cache))
    others = OtherDownloads(cache, stall_after=300)
    try:
        _until(lambda rows: any(r.state is DownloadState.WAITING for r in rows), others)
        old = {str(p.path) for p in find_partials(cache)}
        holder.kill()
        holder.wait()
        rows = _until(
            lambda rows: (
                any(r.owner_pid == waiter.pid and r.key not in old for r in rows)
                and any(r.key in old and r.state is DownloadState.ORPHANED for r in rows)
            ),
            others,
            timeout=20,
            every=0.2,
        )
        seen = [rows]
        for _ in range(10):  # and it stays so
            seen.append(others.sample(time.time()))
            time.sleep(0.2)
    finally:
        others.close()
    for rows in seen:
        dead = next(r for r in rows if r.key in old)
        assert dead.state is DownloadState.ORPHANED and dead.owner_pid is None, dead
        assert f"pid {waiter.pid} took its lock over" in dead.evidence[0]
        new = next(r for r in rows if r.key not in old)
        assert new.owner_pid == waiter.pid and new.state is not DownloadState.WAITING


@pytest.mark.parametrize("xet", [False, True], ids=["plain-http", "xet"])
def test_the_seeds_slow_tail_is_told_within_10_s_with_an_eta_near_the_truth(fresh_devhub, tmp_path, processes, xet):
    """250 MB at 20 MB/s, then the last 3 MiB at 86 kB/s (the case users call "stuck at 99%"): the slow
    tail shows within 10 s of its start, and from then on the ETA is within 25 % of the time really left."""
    size, tail = 250_000_000, 3 * MiB
    fresh_devhub.set_fault(
        "hftop-demo/vit-huge/model.safetensors", Fault(throttle=20_000_000, tail_rate=86_000, tail_fraction=tail / size)
    )
    cache = tmp_path / "hub"
    processes.append(_start(fresh_devhub, cache, xet=xet, repo="hftop-demo/vit-huge"))
    others = OtherDownloads(cache, stall_after=300)
    seen: list[tuple[float, DownloadState, float | None, int]] = []
    try:
        _until(lambda rows: bool(rows), others)
        while True:
            rows = others.sample(time.time())
            if not rows:
                break
            p = rows[0].progress
            seen.append((time.monotonic(), rows[0].state, p.eta, p.done))
            time.sleep(1.0)
    finally:
        others.close()
    end = time.monotonic()
    # When the tail began: the first look past the fast part's bytes.
    tail_start = next(t for t, _, _, done in seen if done >= size - tail)
    told = next((t for t, state, _, _ in seen if state is DownloadState.SLOW_TAIL), None)
    assert told is not None and told - tail_start <= 10, [(round(t - tail_start), s.value) for t, s, _, _ in seen]
    for t, state, eta, _ in seen:
        truth = end - t  # up to a look (1 s) late: the last seconds are left out
        if t >= told and truth > 8:
            assert state is DownloadState.SLOW_TAIL, (round(t - tail_start), state)
            assert eta is not None and abs(eta - truth) <= 0.25 * truth, (round(t - tail_start), eta, truth)


def test_a_cache_reached_through_a_symlink_still_finds_its_writer(fresh_devhub, tmp_path, processes):
    """~/.cache/huggingface is often a link to a bigger disk: the writer's descriptors name the real path."""
    fresh_devhub.set_fault(f"{REPO}/{FILE}", Fault(throttle=5_000_000))
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    cache = tmp_path / "link" / "hub"
    processes.append(proc := _start(fresh_devhub, cache))
    others = OtherDownloads(cache, stall_after=300)
    try:
        rows = _until(lambda rows: any(r.progress.real_bytes > 0 for r in rows), others)
    finally:
        others.close()
    [row] = rows
    assert row.owner_pid == proc.pid and row.state is DownloadState.DOWNLOADING, row.evidence
