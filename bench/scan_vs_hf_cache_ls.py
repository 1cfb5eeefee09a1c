"""hftop's cache scan against `hf cache ls --format json`, side by side on the same synthetic caches.

    python bench/scan_vs_hf_cache_ls.py [--files 10000,100000,300000] [--repeat 3] [--workdir DIR]

For each size, in one run: both full scans as fresh processes (interpreter start and imports included,
after one warm-up run each so the page cache is equally warm) with their peak memory; the time until the
first rows of a scan that streams them; a rescan (against a full scan in the same process) after one repo changed (a file landed in it), which
reads that repo alone; and the per-tick change check, all the dashboard does while nothing in the cache
changes: the fingerprint taken by stat'ing the folders, and as the dashboard takes it, the last one kept
while inotify reports nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui.devhub.synthetic import build_synthetic_cache

FULL_SCAN = """
import resource, sys
from pathlib import Path
from tui.probes.cache_scan import scan_cache
scan = scan_cache(Path(sys.argv[1]))
assert scan.info is not None and not scan.info.warnings, scan
print(sum(r.nb_files for r in scan.info.repos))
"""

STREAMED = """
import sys, time
from pathlib import Path
from tui.probes.cache_scan import CacheScanner
started = time.perf_counter()
first = []
CacheScanner(Path(sys.argv[1])).scan(on_progress=lambda s: first or first.append(time.perf_counter() - started))
print(first[0] if first else time.perf_counter() - started)
"""

RESCAN = """
import os, sys, time
from pathlib import Path
from tui.probes.cache_scan import CacheChanges, CacheScanner, cache_fingerprint
cache = Path(sys.argv[1])
scanner = CacheScanner(cache)
t = time.perf_counter()
scanner.scan()
full = time.perf_counter() - t
times, checks = [], []
for i in range(5):
    repo = next(p for p in sorted(cache.iterdir()) if p.name.startswith("models--"))
    blob, snapshot = repo / "blobs" / f"landed-{os.getpid()}-{i}", next((repo / "snapshots").iterdir())
    blob.write_bytes(b"x" * 64)
    os.symlink(f"../../blobs/{blob.name}", snapshot / blob.name)
    t = time.perf_counter()
    scan = scanner.scan()
    times.append(time.perf_counter() - t)
    assert scan.repos_read == 1, scan.repos_read
    (snapshot / blob.name).unlink()
    blob.unlink()
    scanner.scan()
    t = time.perf_counter()
    cache_fingerprint(cache)
    checks.append(time.perf_counter() - t)
changes, watched = CacheChanges(cache), []
changes.fingerprint()
for i in range(5):  # what the dashboard does while nothing changes, where inotify watches the folders
    t = time.perf_counter()
    changes.fingerprint()
    watched.append(time.perf_counter() - t)
print(full, sorted(times)[2], sorted(checks)[2], sorted(watched)[2])
"""


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Seconds, peak resident memory in MB, and stdout of a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd[:3]} failed with status {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, out


def bench(cache: Path, files: int, repeat: int, hf: str, env: dict) -> dict[str, float]:
    python = sys.executable
    hftop_cmd = [python, "-c", FULL_SCAN, str(cache)]
    hf_cmd = [hf, "cache", "ls", "--format", "json", "--cache-dir", str(cache)]
    _, _, seen = timed(hftop_cmd, env)  # warm-up, and a check that both read the same cache
    _, _, listing = timed(hf_cmd, env)
    assert int(seen) == files and len(json.loads(listing)) == -(-files // 500), (seen, files)
    hftop, hf_runs = [], []
    for _ in range(repeat):
        hftop.append(timed(hftop_cmd, env))
        hf_runs.append(timed(hf_cmd, env))
    first = statistics.median(float(timed([python, "-c", STREAMED, str(cache)], env)[2]) for _ in range(repeat))
    inside, rescan, check, watched = map(float, timed([python, "-c", RESCAN, str(cache)], env)[2].split())
    return {
        "hftop": statistics.median(t for t, _, _ in hftop),
        "hf": statistics.median(t for t, _, _ in hf_runs),
        "hftop_mb": max(m for _, m, _ in hftop),
        "hf_mb": max(m for _, m, _ in hf_runs),
        "first": first,
        "rescan": rescan,
        "inside": inside,
        "check": check,
        "watched": watched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="10000,100000,300000", help="cache sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep (or reuse) the synthetic caches here")
    args = parser.parse_args()
    try:
        sizes = [int(n) for n in args.files.split(",")]
    except ValueError:
        parser.error(f"--files takes numbers separated by commas, not {args.files!r}")

    hf = shutil.which("hf", path=str(Path(sys.executable).parent)) or shutil.which("hf")
    if hf is None:
        parser.error("the hf command (huggingface_hub's CLI) is not installed")
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hftop-bench-"))
    rows = []
    try:
        for files in sizes:
            cache = workdir / f"hub-{files}"
            if not cache.exists():
                started = time.perf_counter()
                build_synthetic_cache(cache, files=files)
                print(f"built {files:,} files in {time.perf_counter() - started:.0f} s at {cache}", file=sys.stderr)
            rows.append((files, bench(cache, files, args.repeat, hf, env)))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"synthetic caches of 500 files a repo; medians of {args.repeat} runs, warm page cache; seconds, MB")
    print(
        "| files | hftop full scan | `hf cache ls --format json` | ratio (goal ≤ 0.5) | first rows | "
        "rescan, one repo changed | rescan / full scan in the same process (goal ≤ 0.05) | change check, stat / inotify | "
        "peak memory hftop / hf |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for files, r in rows:
        print(
            f"| {files:,} | {r['hftop']:.2f} | {r['hf']:.2f} | {r['hftop'] / r['hf']:.2f} | {r['first']:.2f} | "
            f"{r['rescan']:.3f} | {r['rescan'] / r['inside']:.3f} | {r['check']:.3f} / {r['watched']:.5f} | "
            f"{r['hftop_mb']:.0f} / {r['hf_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
