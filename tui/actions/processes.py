"""Stopping another program's downloader and deleting what a dead one left, each checked again first."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil

from tui.probes.partials import find_partials


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


def delete_orphan(cache_dir: Path, partial: str, wait: float = 0.0, clock: Callable[[], float] = time.monotonic) -> int:
    """Delete an orphaned partial file; returns the bytes freed.

    Looked at again first: refused when the file is outside the cache, or a process has it open or
    holds its lock by now (a download that started again on it), after waiting up to `wait`
    seconds for a process that is just ending to let go of it.
    """
    cache = Path(cache_dir).resolve()
    path = Path(partial)
    if not path.name.endswith(".incomplete") or cache not in path.resolve().parents or path.is_symlink():
        raise ActionRefused(f"{path} is not a partial file inside {cache}.")
    deadline = clock() + wait
    while True:
        current = next((p for p in find_partials(cache) if str(p.path) == partial), None)
        if current is None:
            raise AlreadyGone("The partial file is gone already.")
        if not (current.owners or current.lock_holder is not None) or clock() >= deadline:
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
