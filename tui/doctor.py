"""`hftop doctor`: the downloads in the cache and their verdicts, printed once, for scripts and bug reports."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TextIO

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState, ExternalDownload
from tui.monitor.monitor import Monitor, Snapshot

TROUBLE = {DownloadState.STALLED, DownloadState.ORPHANED, DownloadState.NO_SPACE, DownloadState.FAILED}
"""Verdicts that make the exit status 1."""

_ADVICE = {
    DownloadState.DOWNLOADING: "still arriving; nothing to do",
    DownloadState.SLOW_TAIL: "still arriving, slowly: wait, or restart it on a faster mirror",
    DownloadState.STALLED: "no progress for longer than the stall threshold: stop the process and retry",
    DownloadState.FINISHING: "full size reached; huggingface_hub is moving it into place",
    DownloadState.ORPHANED: "its process is gone and huggingface_hub never resumes it: `hftop resume <file>` "
    "continues it from its bytes, or delete it to free the space",
    DownloadState.OWNER_UNKNOWN: "written by a process out of sight (another machine or container): check there",
    DownloadState.NO_SPACE: "the rest does not fit on the disk: free space (hftop's cache pane), then retry",
    DownloadState.WAITING: "waits for another process fetching the same file; it goes on when that one is done",
    DownloadState.QUEUED: "its process fetches its other files first; it goes on when one of them is done",
    DownloadState.FAILED: "it ended while watched and huggingface_hub deleted its file: its program's output says "
    "why; fix that, then fetch it again",
    DownloadState.CANCELLED: "cancelled in hftop, its bytes kept: R in hftop, or `hftop resume <file>`, continues it "
    "from them; or delete it to free the space",
}

_KEPT_FAILED = (
    "hftop's download of it failed and kept its bytes: once the cause is fixed, R in hftop, or `hftop resume "
    "<file>`, continues it from them; or delete it to free the space"
)


TICK = 1.0
"""Seconds between two looks while watching, as the dashboard refreshes by default."""


def examine(
    cache_dir: Path,
    stall_after: float,
    watch_seconds: float,
    tick: float = TICK,
    local_dirs: bool = False,
    endpoint: str | None = None,
) -> Snapshot:
    """The monitor ticking for `watch_seconds`, so growth and speed show; its last snapshot. With nothing
    to watch at the first look, that look at once.

    The same monitor as the dashboard's, so a download gets the verdict the dashboard gives it.
    """
    monitor = Monitor(cache_dir, stall_after, local_dirs=local_dirs, endpoint=endpoint)
    try:
        start = time.monotonic()
        first = monitor.tick(time.time())
        if not first.others:
            return first  # no partial file and no process waiting for a lock: nothing to watch
        while (left := watch_seconds - (time.monotonic() - start)) > 0:
            time.sleep(min(tick, left))
            monitor.tick(time.time())
        monitor.wait_for_lookups()
        return monitor.tick(time.time())
    finally:
        monitor.close()


def as_json(downloads: tuple[ExternalDownload, ...], cache_dir: Path, stall_after: float) -> dict:
    return {
        "cache_dir": str(cache_dir),
        "stall_after_seconds": stall_after,
        "downloads": [
            {
                "verdict": d.state.value,
                "advice": _advice(d, stall_after),
                "repo_type": d.repo_type,
                "repo_id": d.repo_id,
                "file": d.file_name,
                "blob": d.etag,
                "partial_file": d.key,
                "bytes_on_disk": d.progress.real_bytes,
                "bytes_done": d.progress.done,
                "expected_size": d.progress.expected_size,
                "bytes_per_second": d.progress.rate,
                "eta_seconds": d.progress.eta,
                "seconds_since_progress": round(d.progress.quiet_for, 1),
                "evidence": list(d.evidence),
                "waiting_for_pid": d.waiting_for,
                "process": None
                if d.owner_pid is None
                else {
                    "pid": d.owner_pid,
                    "command": d.owner_command,
                    "status": d.owner_status,
                    "connected_to": list(d.owner_remotes),
                    "started": d.owner_started,
                    "cpu_percent": None if d.owner_cpu is None else round(d.owner_cpu, 1),
                    "transport": None if d.transport is None else d.transport[0],
                    "transport_known_by": None if d.transport is None else d.transport[1],
                },
                "lock_held_by": d.lock_holder,
            }
            for d in downloads
        ],
    }


QUIET_NOTED = 10.0
"""Seconds without new bytes after which a download's advice says how long until it counts as stalled."""


def _advice(d: ExternalDownload, stall_after: float) -> str:
    quiet = d.progress.quiet_for
    if d.state is DownloadState.DOWNLOADING and any("its process works" in line for line in d.evidence):
        return "nothing new arrives, but its process works on what it holds: nothing to do"
    if d.state is DownloadState.DOWNLOADING and quiet >= QUIET_NOTED:
        return (
            f"nothing new for {fmt.duration(quiet)}, under the stall threshold ({fmt.duration(stall_after)}, "
            "--stall-after): look again, it counts as stalled past that"
        )
    if d.state is DownloadState.FAILED and d.kept is not None:
        return _KEPT_FAILED
    if d.state is DownloadState.ORPHANED and d.progress.real_bytes == 0:
        return "its process is gone before a byte of it was written: nothing to resume; delete it, or fetch it again"
    return _ADVICE.get(d.state, "")


def print_report(downloads: tuple[ExternalDownload, ...], cache_dir: Path, out: TextIO, stall_after: float) -> None:
    if not downloads:
        missing = "" if cache_dir.exists() else f" ({cache_dir} does not exist yet: nothing was downloaded there)"
        print(f"No download in progress and no partial file in {cache_dir}{missing}.", file=out)
        return
    print(f"{fmt.count(len(downloads), 'download')} in {cache_dir}:\n", file=out)
    indent = " " * 4
    for d in downloads:
        p = d.progress
        size = fmt.size(p.done) + (f" of {fmt.size(p.expected_size)}" if p.expected_size else "")
        if d.state is DownloadState.WAITING:
            size = f"waits for pid {d.waiting_for}"
        print(f"{d.state.value.upper()}  {d.label}  {d.file_name or 'blob ' + d.etag[:12]}  {size}", file=out)
        if d.owner_pid is not None:
            print(f"{indent}process {d.owner_pid} ({d.owner_status}): {d.owner_command}", file=out)
            if d.transport:
                print(f"{indent}over {d.transport[0]} ({d.transport[1]})", file=out)
            if d.owner_remotes:
                print(f"{indent}connected to {', '.join(d.owner_remotes)}", file=out)
        else:
            print(f"{indent}no live process on this machine has the file open", file=out)
        for line in d.evidence:
            print(f"{indent}· {line}", file=out)
        print(f"{indent}→ {_advice(d, stall_after)}", file=out)
        if d.state is not DownloadState.WAITING:
            print(f"{indent}{d.key}", file=out)
        print(file=out)


def run(
    cache_dir: Path,
    stall_after: float,
    watch_seconds: float,
    json_output: bool,
    out: TextIO,
    local_dirs: bool = False,
    endpoint: str | None = None,
) -> int:
    """Print the report; 1 when a download is stalled, orphaned, out of space or failed, else 0 (a download
    cancelled in hftop with its bytes kept is no trouble). `endpoint`: where a dead writer's
    file is asked about (its name, its size), as hftop would ask."""
    downloads = examine(cache_dir, stall_after, watch_seconds, local_dirs=local_dirs, endpoint=endpoint).others
    if json_output:
        json.dump(as_json(downloads, cache_dir, stall_after), out, indent=2)
        out.write("\n")
    else:
        print_report(downloads, cache_dir, out, stall_after)
    return 1 if any(d.state in TROUBLE for d in downloads) else 0
