"""What watching costs: hftop's CPU with 10 live downloads of other programs and a 100,000-file cache,
side by side in the same minute with hftop on an empty cache, with its refresh loop run alone
(the probes its worker threads run each second, no drawing), and with `top -b -d 1`; and how
soon a new download shows up.

    python bench/refresh_cost.py [--files 100000] [--seconds 30] [--cache DIR]

The downloads are real `hf_hub_download` processes against the devhub, throttled to 50 kB/s so
that all ten stay in flight. hftop runs as a user runs it (`hftop --cache-dir … --refresh 1`) in a
pseudo-terminal of 120×36; its CPU time (all threads) is read from the kernel before and after.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil

from tui.devhub.faults import parse_fault
from tui.devhub.server import DevHub
from tui.devhub.synthetic import build_synthetic_cache
from tui.monitor.monitor import Monitor

FILES = [
    ("hftop-demo/tiny-bert", "model.safetensors"),
    ("hftop-demo/tiny-bert", "onnx/model.onnx"),
    ("hftop-demo/llama-mini", "model-00001-of-00002.safetensors"),
    ("hftop-demo/llama-mini", "model-00002-of-00002.safetensors"),
    ("hftop-demo/whisper-small", "model.safetensors"),
    ("hftop-demo/vit-huge", "model.safetensors"),
    ("hftop-demo/mistral-nano", "model.safetensors"),
    ("hftop-demo/phi-tiny", "model.safetensors"),
    ("hftop-demo/qwen-small", "model.safetensors"),
    ("hftop-demo/bloom-mini", "model.safetensors"),
]
# The refresh loop alone, without drawing: what the dashboard's worker threads do each second.
PROBE_LOOP = """
import sys, time
from pathlib import Path
from tui.monitor.monitor import Monitor
cache = Path(sys.argv[1])
monitor = Monitor(cache, stall_after=300)
monitor.look_at_cache()
while True:
    start = time.monotonic()
    if monitor.tick(time.time()).look_at_cache:
        monitor.look_at_cache()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
"""
WARM_UP = 60.0
"""Seconds before measuring: the first full scan of a 100,000-file cache takes 10 s and more under load, and the downloads started during it bring a second one."""
DOWNLOAD = (
    "import sys; from huggingface_hub import hf_hub_download; "
    "hf_hub_download(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])"
)


def start_download(hub: DevHub, cache: Path, repo: str, path: str) -> subprocess.Popen:
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", DOWNLOAD, repo, path, str(cache)], env=env, stderr=subprocess.DEVNULL
    )


def in_pty(argv: list[str], env: dict) -> tuple[psutil.Process, int]:
    """Start `argv` on a 120×36 pseudo-terminal whose output is read (and dropped) in a thread."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))

    def drain() -> None:
        while True:
            try:
                if not os.read(fd, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    return psutil.Process(pid), fd


def cpu_share(processes: list[psutil.Process], seconds: float) -> list[float]:
    """Percent of one core each process used over the same `seconds`."""
    before = [sum(p.cpu_times()[:2]) for p in processes]
    time.sleep(seconds)
    after = [sum(p.cpu_times()[:2]) for p in processes]
    return [100 * (a - b) / seconds for a, b in zip(after, before, strict=True)]


def appearance_latency(hub: DevHub, cache: Path, refresh: float = 1.0) -> tuple[float, float]:
    """Seconds from a new partial file's creation to the first 1 s refresh that reports it."""
    monitor = Monitor(cache, stall_after=300)
    known = {d.key for d in monitor.tick(time.time()).others}
    born: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:  # notes when each new partial file appears, to the millisecond
        while not stop.is_set():
            for repo in cache.glob("models--*/blobs"):
                for name in os.listdir(repo):
                    if name.endswith(".incomplete") and str(repo / name) not in known:
                        born.setdefault(str(repo / name), time.monotonic())
            time.sleep(0.002)

    threading.Thread(target=watch, daemon=True).start()
    proc = start_download(hub, cache, "hftop-demo/gpt-micro", "model.safetensors")
    try:
        while True:
            tick = time.monotonic()
            new = [d.key for d in monitor.tick(time.time()).others if d.key not in known]
            if new and new[0] in born:
                return time.monotonic() - born[new[0]], time.monotonic() - tick
            time.sleep(max(0.0, refresh - (time.monotonic() - tick)))
    finally:
        stop.set()
        proc.kill()
        proc.wait()
        monitor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, help="reuse (or create) the synthetic cache here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hftop-bench-"))
    cache = args.cache or workdir / "hub"
    if not cache.exists():
        t = time.perf_counter()
        build_synthetic_cache(cache, files=args.files)
        print(f"built {args.files:,} files at {cache} in {time.perf_counter() - t:.1f} s")
    for leftover in cache.glob("models--hftop-demo--*"):  # what an earlier run fetched or left
        shutil.rmtree(leftover)
    hftop = shutil.which("hftop", path=str(Path(sys.executable).parent)) or shutil.which("hftop")
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    downloads: list[subprocess.Popen] = []
    with DevHub() as hub:
        hub.set_fault(*parse_fault("hftop-demo/*:throttle=50000"))
        try:
            for repo, path in FILES:
                downloads.append(start_download(hub, cache, repo, path))
            monitor = Monitor(cache, stall_after=300)
            deadline = time.monotonic() + 60
            while len(started := monitor.tick(time.time()).others) < len(FILES):
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {len(started)} of {len(FILES)} downloads started")
                time.sleep(0.5)
            monitor.close()

            # The same dashboard on an empty cache with no download beside it: the floor of drawing it.
            empty = workdir / "empty"
            empty.mkdir()
            app, fd = in_pty([hftop, "--cache-dir", str(cache), "--refresh", "1"], env)
            floor, floor_fd = in_pty([hftop, "--cache-dir", str(empty), "--refresh", "1"], env)
            loop = subprocess.Popen([sys.executable, "-c", PROBE_LOOP, str(cache)])
            top = subprocess.Popen(["top", "-b", "-d", "1"], stdout=subprocess.DEVNULL) if shutil.which("top") else None
            time.sleep(WARM_UP)  # the first full scan of the cache (10 s and more), then the steady state
            procs = [app, floor, psutil.Process(loop.pid)] + ([psutil.Process(top.pid)] if top else [])
            shares = cpu_share(procs, args.seconds)
            loop.kill()
            for process, terminal in ((app, fd), (floor, floor_fd)):
                process.terminate()
                os.close(terminal)
            if top:
                top.terminate()
            latency, sample_time = appearance_latency(hub, cache)
        finally:
            for proc in downloads:
                proc.kill()
                proc.wait()
    live = sum(1 for _ in cache.glob("models--*/blobs/*.incomplete"))
    print(f"cache: {args.files:,} files; 10 downloads at 50 kB/s each; {args.seconds:.0f} s at a 1 s refresh")
    print(f"{'':40}{'% of one core':>14}")
    print(f"{'hftop, 100k-file cache + 10 downloads':40}{shares[0]:>14.1f}")
    print(f"{'hftop, empty cache, no download':40}{shares[1]:>14.1f}")
    print(f"{'its refresh loop alone, no drawing':40}{shares[2]:>14.1f}")
    if top:
        print(f"{'top -b -d 1':40}{shares[3]:>14.1f}")
    print(
        f"new partial file reported {latency:.2f} s after it was created (one refresh = 1 s; "
        f"that refresh took {sample_time * 1000:.0f} ms)"
    )
    print(f"partial files left after the run: {live} (the killed downloaders' orphans)")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
