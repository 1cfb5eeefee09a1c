"""`hftop --demo`: a devhub on loopback, a throwaway cache filled by real downloads from it, and
four live downloads hftop runs itself, one for each state a user meets: three over Xet, as the Hub
serves most large files, and one over plain HTTP. In a read-only demo hftop starts nothing: the same
four run as programs of their own, as a training script's downloads would.

Both run as child processes in their own process groups; `close()` stops them and removes the
throwaway cache, so quitting leaves nothing behind. Should hftop die without closing, both notice
their owner is gone and stop by themselves, the hub removing the throwaway cache.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.core.download_plan import DownloadRequest
from tui.devhub.demo_folders import lay_out_folders

MiB = 1024 * 1024

DEMO_DOWNLOADS: tuple[tuple[DownloadRequest, str], ...] = (
    # Healthy: a steady 4 MB/s for 40 s, over Xet (hf_xet fetches from the hub's CAS and xorb storage).
    (DownloadRequest("hftop-demo/mistral-nano"), "throttle=4MB"),
    # Slow tail over Xet: fast, then the last 10% at 150 KB/s.
    (DownloadRequest("hftop-demo/phi-tiny"), "throttle=15MB,tail_rate=150KB,tail_fraction=0.1"),
    # Stalls at 40 MiB over Xet, the xorb connection held open: hf_xet waits on it for minutes. Plain
    # HTTP serves it well: R restarts it so, the cure for a stuck Xet transfer.
    (DownloadRequest("hftop-demo/qwen-small"), f"throttle=8MB,stall_after={40 * MiB},over=xet"),
    # Fails over plain HTTP (HF_HUB_DISABLE_XET=1): the connection drops at 20 MiB, again on each of
    # huggingface_hub's five Range retries, until it gives up. Then the link holds: R resumes from the
    # bytes kept and completes, the cure for a flaky connection.
    (DownloadRequest("hftop-demo/bloom-mini", disable_xet=True), f"throttle=8MB,drop_after={20 * MiB},drop_times=6"),
)
"""The demo's live downloads and the devhub fault that gives each its state."""


class DemoError(RuntimeError):
    """The demo could not start; the message says why."""


@dataclass
class DemoSession:
    endpoint: str
    cache_dir: Path
    throwaway: Path | None
    """The temporary folder holding the cache, removed on close; None for a cache the user chose."""
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    downloads: tuple[DownloadRequest, ...] = tuple(request for request, _ in DEMO_DOWNLOADS)
    """What hftop downloads live from the demo hub (nothing when they run as programs of their own)."""

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.throwaway is not None:
            shutil.rmtree(self.throwaway, ignore_errors=True)


# snapshot_download, as a user's script calls it.
_PROGRAM = (
    "import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1], cache_dir=sys.argv[2])"
)


def start_demo(cache_dir: Path | None = None, own_downloads: bool = True) -> DemoSession:
    """The demo's hub and cache; with `own_downloads` False its live downloads run at once as programs of
    their own, beside hftop (a read-only hftop starts none)."""
    throwaway: Path | None = None
    if cache_dir is None:
        throwaway = Path(tempfile.mkdtemp(prefix="hftop-demo-"))
        cache = throwaway / "hub"
        lay_out_folders(throwaway / "xet", throwaway / "datasets")
    else:
        cache = Path(cache_dir)
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.devhub",
            "--port",
            "0",
            "--exit-with",
            str(os.getpid()),
            *(["--cleanup", str(throwaway)] if throwaway is not None else []),
            *(arg for request, fault in DEMO_DOWNLOADS for arg in ("--fault", f"{request.repo_id}/*:{fault}")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    session = DemoSession(endpoint="", cache_dir=cache, throwaway=throwaway, processes=[hub])
    endpoint = hub.stdout.readline().strip() if hub.stdout else ""
    if not endpoint.startswith("http://"):
        session.close()
        raise DemoError("the demo hub did not start (is the loopback interface up?)")
    session.endpoint = endpoint
    session.processes.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tui.devhub.demo_cache",
                "--endpoint",
                endpoint,
                "--cache-dir",
                str(cache),
                "--exit-with",
                str(os.getpid()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    )
    if not own_downloads:
        session.downloads = ()
        xet = {"HF_XET_CACHE": str(throwaway / "xet")} if throwaway is not None else {}
        for request, _ in DEMO_DOWNLOADS:
            session.processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", _PROGRAM, request.repo_id, str(cache)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={
                        **env,
                        **xet,
                        "HF_ENDPOINT": endpoint,
                        **({"HF_HUB_DISABLE_XET": "1"} if request.disable_xet else {}),
                    },
                    start_new_session=True,
                )
            )
    for proc in session.processes:
        # Each is reaped when it ends (the cache is laid out in seconds): no zombie stays for the whole run.
        threading.Thread(target=proc.wait, name="hftop-demo-reaper", daemon=True).start()
    return session
