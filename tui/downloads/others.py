"""Other programs' downloads (and what dead ones left): partial files watched over time."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path

import psutil

from tui.core.downloads import ExternalDownload, PartialProgressTracker, PartialReading
from tui.probes.partials import PartialFinder, find_partials


class OtherDownloads:
    """Each `sample()` looks at the cache's partial files once; speed and stalls come from the
    samples before it. Not thread-safe: one caller at a time (the app's worker, or `hftop doctor`)."""

    def __init__(self, cache_dir: Path, stall_after: float, clock: Callable[[], float] = time.time) -> None:
        self.cache_dir = Path(cache_dir)
        self.stall_after = stall_after
        self._clock = clock
        self._tracker = PartialProgressTracker()
        self._finder = PartialFinder()

    def sample(self, exclude_pids: Collection[int] = ()) -> tuple[ExternalDownload, ...]:
        """Partial files not written by `exclude_pids` (hftop's own download processes)."""
        partials = [p for p in self._finder.find(self.cache_dir) if not {o.pid for o in p.owners} & set(exclude_pids)]
        readings = {
            str(p.path): PartialReading(p.real_bytes, p.expected_size, bool(p.owners), p.modified) for p in partials
        }
        progress = self._tracker.observe(self._clock(), readings, self.stall_after)
        return tuple(
            ExternalDownload(
                key=str(p.path),
                repo_type=p.repo_type,
                repo_id=p.repo_id,
                etag=p.etag,
                file_name=p.file_name,
                commit=p.commit,
                owner_pid=p.owners[0].pid if p.owners else None,
                owner_command=p.owners[0].command if p.owners else None,
                owner_status=p.owners[0].status if p.owners else None,
                owner_remotes=p.owners[0].remotes if p.owners else (),
                lock_holder=p.lock_holder,
                progress=progress[str(p.path)],
            )
            for p in partials
        )


class ActionRefused(RuntimeError):
    """The action would be unsafe now; the message says why."""


class AlreadyGone(ActionRefused):
    """The file to delete is not there any more (its program cleaned up after itself)."""


def stop_process(pid: int, command: str | None = None, grace: float = 5.0) -> None:
    """SIGTERM another program's downloader, SIGKILL after `grace` seconds. Its partial file stays
    behind (a plain SIGTERM runs no cleanup in Python) and shows as an orphan to delete.

    With `command`, the process must still run that command line: the pid the user confirmed
    may have ended and been given to another process since.
    """
    try:
        process = psutil.Process(pid)
        if command is not None and (" ".join(process.cmdline()) or process.name()) != command:
            raise ActionRefused(f"Process {pid} is not that download any more; nothing was stopped.")
        process.terminate()
        try:
            process.wait(timeout=grace)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)
    except psutil.NoSuchProcess:
        return
    except psutil.AccessDenied:
        raise ActionRefused(f"Not allowed to stop process {pid}: it belongs to another user.") from None


def delete_orphan(cache_dir: Path, partial: str, wait: float = 0.0) -> int:
    """Delete an orphaned partial file; returns the bytes freed.

    Looked at again first: refused when the file is outside the cache, or a process has it open or
    holds its lock by now (a download that started again on it), after waiting up to `wait`
    seconds for a process that is just ending to let go of it.
    """
    cache = Path(cache_dir).resolve()
    path = Path(partial)
    if not path.name.endswith(".incomplete") or cache not in path.resolve().parents or path.is_symlink():
        raise ActionRefused(f"{path} is not a partial file inside {cache}.")
    deadline = time.monotonic() + wait
    while True:
        current = next((p for p in find_partials(cache) if str(p.path) == partial), None)
        if current is None:
            raise AlreadyGone("The partial file is gone already.")
        if not (current.owners or current.lock_holder is not None) or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if current.owners or current.lock_holder is not None:
        pid = current.owners[0].pid if current.owners else current.lock_holder
        raise ActionRefused(f"Process {pid} is using it now; it is not an orphan any more.")
    try:
        path.unlink()
    except OSError as error:
        raise ActionRefused(f"Could not delete it: {error.strerror or error}.") from None
    return current.real_bytes
