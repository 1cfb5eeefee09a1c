"""What the dashboard costs when nothing happens, and when one file lands every 3 s (a `snapshot_download`, a
training run saving checkpoints): hftop's CPU (all threads) and its peak memory, on synthetic caches of
several sizes, side by side in one run.

    python bench/dashboard_cost.py [--files 10000,100000] [--seconds 60] [--workdir DIR]

hftop runs as a user runs it (`hftop --cache-dir … --refresh 1`) on a 120×36 pseudo-terminal. After the first
scan is done, its CPU time is read over `--seconds` quiet, then over `--seconds` while a new file (blob and
snapshot link, as huggingface_hub writes them) lands in one repo every 3 s. Peak memory is the kernel's
high-water mark of its resident set (VmHWM).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from refresh_cost import in_pty

from tui.devhub.synthetic import build_synthetic_cache

LANDING_EVERY = 3.0
FILES_PER_REPO = 500


def peak_memory(process: psutil.Process) -> int:
    with open(f"/proc/{process.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(process: psutil.Process) -> float:
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


def land_files(cache: Path, stop: threading.Event) -> int:
    """One new file every LANDING_EVERY seconds in the first repo, until `stop`; returns how many landed."""
    repo = cache / "models--synthetic--repo-00000"
    snapshot = next((repo / "snapshots").iterdir())
    landed = 0
    folder = snapshot / f"checkpoints-{time.time_ns()}"
    folder.mkdir()
    while not stop.wait(LANDING_EVERY):
        content = f"landed {landed} at {time.time()}".encode()
        etag = hashlib.sha1(content).hexdigest()
        partial = repo / "blobs" / f"{etag}.incomplete"
        partial.write_bytes(content)
        partial.rename(repo / "blobs" / etag)
        os.symlink(f"../../../blobs/{etag}", folder / f"step-{landed:05d}.bin")
        landed += 1
    return landed


def measure(hftop: str, cache: Path, seconds: float, warm_up: float) -> tuple[float, float, int, int]:
    """(quiet % of a core, landing % of a core, peak memory in bytes, files landed)."""
    empty = cache.parent / "no-folders"
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "HF_XET_CACHE": str(empty / "xet"),
        "HF_DATASETS_CACHE": str(empty / "datasets"),
    }
    app, fd = in_pty([hftop, "--cache-dir", str(cache), "--refresh", "1"], env)
    try:
        time.sleep(warm_up)
        before = cpu_seconds(app)
        time.sleep(seconds)
        quiet = 100 * (cpu_seconds(app) - before) / seconds
        stop = threading.Event()
        landed: list[int] = []
        lander = threading.Thread(target=lambda: landed.append(land_files(cache, stop)))
        before = cpu_seconds(app)
        lander.start()
        time.sleep(seconds)
        busy = 100 * (cpu_seconds(app) - before) / seconds
        stop.set()
        lander.join()
        peak = peak_memory(app)
    finally:
        app.terminate()
        os.close(fd)
    return quiet, busy, peak, landed[0] if landed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="10000,100000", help="cache sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of each measurement")
    parser.add_argument("--warm-up", type=float, default=30.0, help="seconds for the first scan before measuring")
    parser.add_argument("--workdir", type=Path, help="where the synthetic caches go (default: a temporary folder)")
    args = parser.parse_args()
    try:
        sizes = [int(s.replace("_", "")) for s in args.files.split(",")]
    except ValueError:
        parser.error(f"--files takes numbers separated by commas, got {args.files!r}")
    hftop = shutil.which("hftop", path=str(Path(sys.executable).parent)) or shutil.which("hftop")
    if hftop is None:
        parser.error("hftop is not installed in this environment (pip install -e .)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hftop-bench-"))
    rows = []
    for files in sizes:
        cache = workdir / f"cache-{files}" / "hub"
        shutil.rmtree(cache.parent, ignore_errors=True)
        build_synthetic_cache(cache, files=files, files_per_repo=FILES_PER_REPO)
        quiet, busy, peak, landed = measure(hftop, cache, args.seconds, args.warm_up)
        rows.append((files, quiet, busy, peak, landed))
        shutil.rmtree(cache.parent, ignore_errors=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"hftop --refresh 1 at 120x36; {args.seconds:.0f} s each; a file lands every {LANDING_EVERY:g} s in one repo")
    print(f"{'files':>8} {'repos':>6} {'quiet % core':>13} {'landing % core':>15} {'peak memory':>12} {'landed':>7}")
    for files, quiet, busy, peak, landed in rows:
        repos = -(-files // FILES_PER_REPO)
        print(f"{files:>8,} {repos:>6} {quiet:>13.1f} {busy:>15.1f} {peak / 1e6:>10.0f} MB {landed:>7}")


if __name__ == "__main__":
    main()
