"""The time a Prometheus scrape of `hftop exporter` takes on a synthetic cache, beside the full scan it avoids.

    python bench/exporter_scrape.py [--files 100000] [--scrapes 50] [--cache DIR]

The exporter runs as a real process (`hftop exporter`); the scrapes are real HTTP GETs of /metrics once the
first cache figures are in. For comparison, one full scan of the same cache (what a scrape that rescanned
would cost) is timed in a fresh process.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tui.devhub.synthetic import cache_for_bench

SCAN = """
import sys, time
from pathlib import Path
from tui.probes.cache_scan import scan_cache
t = time.perf_counter()
scan_cache(Path(sys.argv[1]))
print(time.perf_counter() - t)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--cache", type=Path, help="reuse (or create) the synthetic cache here")
    args = parser.parse_args()

    cache, workdir = cache_for_bench(args.cache, args.files)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exporter = subprocess.Popen(
        [sys.executable, "-m", "tui", "exporter", "--listen", f"127.0.0.1:{port}", "--cache-dir", str(cache)],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        started = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    if b"hftop_cache_size_bytes{" in r.read():
                        break
            except OSError:
                pass
            time.sleep(0.2)
        ready = time.perf_counter() - started
        times = []
        for _ in range(args.scrapes):
            t = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as r:
                body = r.read()
            times.append(time.perf_counter() - t)
    finally:
        exporter.terminate()
        exporter.wait()
    scan = float(subprocess.run([sys.executable, "-c", SCAN, str(cache)], capture_output=True, text=True).stdout)
    print(f"cache: {args.files:,} files; {args.scrapes} scrapes of /metrics ({len(body):,} bytes each)")
    print(f"{'':40}{'seconds':>10}")
    print(f"{'exporter start to first cache figures':40}{ready:>10.2f}")
    print(f"{'scrape, median':40}{statistics.median(times):>10.4f}")
    print(f"{'scrape, slowest':40}{max(times):>10.4f}")
    print(f"{'one full scan (what a rescan would cost)':40}{scan:>10.2f}")
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
