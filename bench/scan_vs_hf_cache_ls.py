"""hftop's cache scan against `hf cache ls --format json`, side by side on the same synthetic cache.

    python bench/scan_vs_hf_cache_ls.py [--files 100000] [--repeat 3] [--cache DIR]

Both run as fresh processes (interpreter start and imports included), after one warm-up run each
so the page cache is equally warm. Also timed: hftop's per-tick change check (the fingerprint),
which is all the dashboard does while nothing in the cache changes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tui.devhub.synthetic import cache_for_bench

HFTOP_SCAN = """
import sys, time
from pathlib import Path
from tui.probes.cache_scan import scan_cache
scan = scan_cache(Path(sys.argv[1]))
assert scan.info is not None and not scan.info.warnings, scan
print(sum(r.nb_files for r in scan.info.repos))
"""

FINGERPRINT = """
import sys, time
from pathlib import Path
from tui.probes.cache_scan import cache_fingerprint
cache_fingerprint(Path(sys.argv[1]))
t = time.perf_counter()
for _ in range(5):
    cache_fingerprint(Path(sys.argv[1]))
print((time.perf_counter() - t) / 5)
"""


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, help="reuse (or create) the synthetic cache here")
    args = parser.parse_args()

    cache, workdir = cache_for_bench(args.cache, args.files)

    hf = shutil.which("hf", path=str(Path(sys.executable).parent)) or shutil.which("hf")
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
    hftop_cmd = [sys.executable, "-c", HFTOP_SCAN, str(cache)]
    hf_cmd = [hf, "cache", "ls", "--format", "json", "--cache-dir", str(cache)]

    # Warm-up, and a check that both saw the same cache.
    _, files_seen = timed(hftop_cmd, env)
    _, listing = timed(hf_cmd, env)
    hf_repos = json.loads(listing)
    assert int(files_seen) == args.files or args.cache, (files_seen, args.files)

    hftop_times, hf_times = [], []
    for _ in range(args.repeat):
        hftop_times.append(timed(hftop_cmd, env)[0])
        hf_times.append(timed(hf_cmd, env)[0])
    _, per_tick = timed([sys.executable, "-c", FINGERPRINT, str(cache)], env)

    h, c = statistics.median(hftop_times), statistics.median(hf_times)
    print(f"cache: {int(files_seen):,} files, {len(hf_repos)} repos (median of {args.repeat} runs, warm page cache)")
    print(f"{'':34}{'seconds':>10}")
    print(f"{'hftop full scan (scan_cache)':34}{h:>10.2f}")
    print(f"{'hf cache ls --format json':34}{c:>10.2f}")
    print(f"{'ratio hftop / hf':34}{h / c:>10.2f}")
    print(f"{'hftop per-tick change check':34}{float(per_tick):>10.3f}")
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
