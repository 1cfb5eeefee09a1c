"""Start, watch, cancel and retry the downloads hftop runs, each a child process in its own group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from huggingface_hub.file_download import repo_folder_name

from tui.core.download_plan import DownloadPlan, DownloadRequest, PlannedFile
from tui.core.downloads import (
    RATE_WINDOW,
    DownloadState,
    DownloadView,
    ProgressSample,
    current_rate,
    eta_seconds,
    judged_rate,
    latest_rate,
    pruned,
    running_state,
)
from tui.probes.locks import lock_is_held

ETA_BASIS = 64 << 10
"""Bytes of the current file an ETA waits for: more than its requests bring before its body comes."""
STOP_GRACE = 5.0
"""Seconds a download gets to clean up after SIGTERM before its group is killed."""

# Variables the child must not inherit: hftop sets them itself, or they would override its choices.
_OVERRIDDEN = (
    "HF_ENDPOINT",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_HUB_DISABLE_XET",
    "HF_HUB_OFFLINE",
    "HF_HUB_DOWNLOAD_TIMEOUT",
)
_TOKENS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def child_environment(
    base: Mapping[str, str], *, endpoint: str, cache_dir: Path, request: DownloadRequest, send_token: bool
) -> dict[str, str]:
    """The explicit environment of a download's process.

    huggingface_hub reads these once at import, so they are set here rather than changed later.
    Without `send_token`, no token variable is passed and the stored login is not used either.
    """
    env = {k: v for k, v in base.items() if k not in _OVERRIDDEN}
    env["HF_ENDPOINT"] = endpoint
    env["HF_HUB_CACHE"] = str(cache_dir)
    if request.disable_xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    if request.read_timeout:
        env["HF_HUB_DOWNLOAD_TIMEOUT"] = str(request.read_timeout)
    if not send_token:
        for name in _TOKENS:
            env.pop(name, None)
        env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def runner_argv(
    plan: DownloadPlan,
    *,
    endpoint: str,
    cache_dir: Path,
    send_token: bool,
    owner_pid: int,
    python: str,
    fresh: bool = False,
) -> list[str]:
    """The argument list of a download's process (no shell is involved)."""
    request = plan.request
    argv = [
        python, "-m", "tui.downloads.runner",
        "--repo-id", request.repo_id,
        "--repo-type", request.repo_type,
        # The commit the plan saw, so every file comes from one revision even if the branch moves.
        "--revision", plan.commit or request.revision,
        "--ref", request.revision,
        "--cache-dir", str(cache_dir),
        "--endpoint", endpoint,
        "--owner-pid", str(owner_pid),
    ]  # fmt: skip
    if not send_token:
        argv.append("--no-token")
    if fresh:
        argv.append("--fresh")
    for planned in plan.files:
        argv += ["--file", planned.path, "--etag", planned.etag or ""]
    return argv


class _Attempt:
    """One run of the child process for a download. Fields change under the supervisor's lock."""

    def __init__(self, plan: DownloadPlan, attempt: int, started_at: float, lost_bytes: int):
        self.plan = plan
        self.attempt = attempt
        self.started_at = started_at
        self.lost_bytes = lost_bytes
        self.endpoint = ""
        self.process: subprocess.Popen[str] | None = None
        self.current: PlannedFile | None = None
        self.files_done = 0
        self.bytes_before_current = 0
        self.current_written = 0
        self.received = 0
        """Body bytes the child read from the network (its `received` events)."""
        self.received_at_write = 0
        self.received_at_file = 0
        """`received` when the current file began."""
        self.range_start: tuple[int, int] | None = None
        """(offset in the file, `received` then) of the last request for the rest of the current file: a
        retry of huggingface_hub's from its last write step, or a resume. Over plain HTTP the file stands
        where that request got, whatever earlier connections brought."""
        self.last_received_at: float | None = None
        """When the count of bytes received last grew."""
        self.peak_current = 0
        """The most bytes the current file reached: what stopping it now throws away."""
        self.last_progress_at: float | None = None
        self.samples: tuple[ProgressSample, ...] = ()
        self.final: DownloadState | None = None
        self.ended_at: float | None = None
        """When the process ended: durations stop there."""
        self.error: str | None = None
        self.stop_requested = False
        self.last_log_line = ""
        """The child's last line on stderr, for a process that dies without a word."""
        self.readers: list[threading.Thread] = []
        self.transport: str | None = None
        """How huggingface_hub fetches the current file: "Xet" (through hf_xet) or "plain HTTP"."""
        self.kept: dict[str, str] = {}
        """Hard links the child keeps to its partial files (link → the partial it names): their bytes
        survive a failure, or a stop that keeps them, for the next attempt to resume from."""
        self.keep_bytes = False
        """The stop asked for keeps the current file's bytes."""
        self.resumed_from: int | None = None
        """The current file continues from this many bytes of a partial file."""
        self.reused = 0
        """Bytes taken from partial files instead of fetched, over the attempt's files."""
        self.fresh_needed = False
        """The resume was refused (ranges ignored, a changed file, a failed hash): only a fresh download goes on."""

    @property
    def current_bytes(self) -> int:
        """Bytes of the current file: those written, plus those received since the last write.

        huggingface_hub writes plain HTTP in 10 MiB steps; the received bytes fill the gaps.
        hf_xet's terms arrive long before they are written: over Xet the received bytes are the figure.
        """
        if self.current is None:
            return 0
        if self.transport == "Xet":
            # hf_xet writes whole terms, far behind what has arrived: everything received since the
            # file began is the file's (this process fetches one file at a time).
            guess = max(self.current_written, self.received - self.received_at_file)
        elif self.range_start is not None:
            guess = self.range_start[0] + max(0, self.received - self.range_start[1])
        else:
            guess = self.current_written + max(0, self.received - self.received_at_write)
        return min(guess, self.current.size) if self.current.size else guess

    @property
    def done_bytes(self) -> int:
        return self.bytes_before_current + self.current_bytes


class DownloadSupervisor:
    """Owns hftop's download processes. Thread-safe; `cancel`, `retry` and `stop_all` block."""

    def __init__(
        self,
        cache_dir: Path,
        endpoint: str,
        *,
        stall_after: float,
        send_token: bool = False,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ):
        self.cache_dir = Path(cache_dir)
        self.endpoint = endpoint
        self.stall_after = stall_after
        self.send_token = send_token
        self._clock = clock
        self._environ = dict(os.environ if environ is None else environ)
        self._python = python
        self._lock = threading.Lock()
        self._attempts: dict[int, _Attempt] = {}
        self._next_id = 1
        self._busy: set[int] = set()
        """Downloads a cancel or retry is working on; a second key press meanwhile is ignored."""

    # --- actions ----------------------------------------------------------------------------
    def use_endpoint(self, endpoint: str, send_token: bool) -> None:
        """Where new downloads and retries go from now on (running ones stay where they are)."""
        with self._lock:
            self.endpoint, self.send_token = endpoint, send_token

    def start(self, plan: DownloadPlan) -> int:
        """Spawn the download's process; returns the download's id."""
        with self._lock:
            download_id = self._next_id
            self._next_id += 1
        self._spawn(download_id, plan, attempt=1, lost_bytes=0)
        return download_id

    def cancel(self, download_id: int, keep: bool = False) -> None:
        """Stop the download's whole process group; leave no partial file behind, or with `keep` the
        current file's bytes, for a retry to resume from."""
        with self._acting_on(download_id) as attempt:
            if attempt is not None:
                self._stop(attempt, keep=keep)

    def discard_kept(self, download_id: int) -> str | None:
        """Delete the bytes an ended attempt kept for a resume; a sentence when some are not deleted: the
        download runs, or another process holds the file's lock (it fetches the same file: the bytes may be
        its own now)."""
        with self._acting_on(download_id) as attempt:
            if attempt is None:
                return "Another action on this download is under way."
            if attempt.final is None:
                return "It is running: x cancels it, and asks whether to keep its bytes."
            folder = self._repo_folder(attempt.plan)
            for link in list(attempt.kept):
                etag = Path(link).name.split(".")[0]
                if lock_is_held(self.cache_dir / ".locks" / folder.name / f"{etag}.lock"):
                    return f"Another process holds its lock (it fetches the same file): {Path(link).name} stays."
                for path in {link, attempt.kept[link]}:
                    if path and Path(path).resolve().is_relative_to(folder.resolve()):  # its own blobs, nothing else
                        Path(path).unlink(missing_ok=True)
                with self._lock:
                    del attempt.kept[link]
            return None

    def retry(self, download_id: int, disable_xet: bool | None = None, fresh: bool = False) -> None:
        """Go on from the first unfinished file (stopping the running attempt first, keeping its bytes),
        resuming it from the bytes kept; with `fresh`, from 0 (its old bytes are deleted). With
        `disable_xet`, over plain HTTP (True) or with Xet allowed again (False)."""
        with self._acting_on(download_id) as attempt:
            if attempt is None:
                return
            if attempt.final is None:
                self._stop(attempt, keep=not fresh)
            with self._lock:
                lost = attempt.lost_bytes if attempt.final is not DownloadState.DONE else 0
                if fresh:
                    lost += _kept_size(attempt)
            # Files the last attempt finished are in the cache now: the new attempt only links them.
            plan = attempt.plan
            if disable_xet is not None:
                plan = replace(plan, request=replace(plan.request, disable_xet=disable_xet))
            files = tuple(replace(f, cached=f.cached or self._blob_exists(plan, f)) for f in plan.files)
            self._spawn(
                download_id,
                replace(plan, files=files),
                attempt=attempt.attempt + 1,
                lost_bytes=lost,
                fresh=fresh,
                kept={} if fresh else attempt.kept,
            )

    @contextmanager
    def _acting_on(self, download_id: int) -> Iterator[_Attempt | None]:
        with self._lock:
            if download_id in self._busy:
                attempt = None
            else:
                attempt = self._attempts.get(download_id)
                self._busy.add(download_id)
        try:
            yield attempt
        finally:
            if attempt is not None:
                with self._lock:
                    self._busy.discard(download_id)

    def stop_all(self) -> None:
        """Cancel every running download at once (on quit), waiting at most STOP_GRACE."""
        running = [a for a in list(self._attempts.values()) if a.final is None]
        threads = [threading.Thread(target=self._stop, args=(a,)) for a in running]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # --- views ------------------------------------------------------------------------------
    def views(self, now: float | None = None) -> tuple[DownloadView, ...]:
        """Every download as of `now` (the supervisor's clock, wall clock by default)."""
        now = self._clock() if now is None else now
        with self._lock:
            return tuple(self._view(i, a, now) for i, a in sorted(self._attempts.items()))

    def view(self, download_id: int) -> DownloadView | None:
        now = self._clock()
        with self._lock:
            attempt = self._attempts.get(download_id)
            return None if attempt is None else self._view(download_id, attempt, now)

    @property
    def active_count(self) -> int:
        return sum(1 for a in list(self._attempts.values()) if a.final is None)

    def _view(self, download_id: int, a: _Attempt, now: float) -> DownloadView:
        rate = current_rate(a.samples, now) if a.final is None else None
        total = a.plan.bytes_to_fetch
        if a.final is not None:
            state = a.final
        elif a.stop_requested:
            state = DownloadState.CANCELLING
        else:
            state = running_state(
                now=now,
                started_at=a.started_at,
                last_progress_at=a.last_progress_at,
                done=a.done_bytes,
                recent_rate=judged_rate(a.samples, now),
                stall_after=self.stall_after,
                latest_rate=latest_rate(a.samples, now),
            )
        if state is DownloadState.STALLED and (a.last_received_at is None or now - a.last_received_at >= RATE_WINDOW):
            rate = 0.0  # no byte for the whole threshold: a window that still holds the last burst says otherwise
        quiet_since = a.last_progress_at if a.last_progress_at is not None else a.started_at
        done = a.done_bytes
        if a.final is not None and a.final is not DownloadState.DONE:
            done = a.bytes_before_current + _kept_size(a)  # what arrived unwritten went with its process
        return DownloadView(
            id=download_id,
            plan=a.plan,
            state=state,
            attempt=a.attempt,
            pid=a.process.pid if a.process else None,
            current_file=a.current.path if a.current else None,
            files_done=a.files_done,
            done_bytes=done,
            total_bytes=total,
            partial_bytes=a.current_bytes if a.current is not None and a.final is None else 0,
            rate=rate,
            # Not before the current file's own transfer: the bytes of config.json, then of the big file's
            # requests (a Xet token), give a true speed but an ETA of days for the big file.
            eta=eta_seconds(total - a.done_bytes, rate) if a.final is None and a.current_bytes >= ETA_BASIS else None,
            age=(a.ended_at or now) - a.started_at,
            quiet_for=(a.ended_at or now) - quiet_since,
            error=a.error,
            lost_bytes=a.lost_bytes,
            endpoint=a.endpoint,
            transport=a.transport,
            kept_bytes=_kept_size(a) if a.final is not None else 0,
            kept_paths=tuple(a.kept),
            resumed_from=a.resumed_from if a.current is not None else None,
            reused_bytes=a.reused,
            on_disk=max(a.current_written, _kept_size(a)) if a.current is not None and a.final is None else 0,
            fresh_needed=a.fresh_needed,
        )

    # --- processes --------------------------------------------------------------------------
    def _spawn(
        self,
        download_id: int,
        plan: DownloadPlan,
        attempt: int,
        lost_bytes: int,
        fresh: bool = False,
        kept: Mapping[str, str] | None = None,
    ) -> None:
        """`kept`: the last attempt's links, this one's from the start: until its process has them open, no
        one else does, and they are still this download's bytes (never another program's orphan)."""
        run = _Attempt(plan, attempt, self._clock(), lost_bytes)
        run.endpoint = self.endpoint
        run.kept = dict(kept or {})
        argv = runner_argv(
            plan,
            endpoint=self.endpoint,
            cache_dir=self.cache_dir,
            send_token=self.send_token,
            owner_pid=os.getpid(),
            python=self._python,
            fresh=fresh,
        )
        env = child_environment(
            self._environ,
            endpoint=self.endpoint,
            cache_dir=self.cache_dir,
            request=plan.request,
            send_token=self.send_token,
        )
        try:
            run.process = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                start_new_session=True,  # its own process group, so cancel reaches every child
            )
        except OSError as error:
            run.final = DownloadState.FAILED
            run.error = f"Could not start the download process: {error.strerror or error}."
            run.ended_at = run.started_at
        with self._lock:
            self._attempts[download_id] = run
        if run.process is None:
            return
        readers = [
            threading.Thread(target=self._read_events, args=(run,), daemon=True, name=f"download-{download_id}"),
            threading.Thread(target=self._read_log, args=(run,), daemon=True, name=f"download-{download_id}-log"),
        ]
        run.readers = readers
        for reader in readers:
            reader.start()

    def _read_log(self, run: _Attempt) -> None:
        assert run.process is not None and run.process.stderr is not None
        for line in run.process.stderr:
            line = line.rstrip()
            if line:
                with self._lock:
                    run.last_log_line = line

    def _read_events(self, run: _Attempt) -> None:
        assert run.process is not None and run.process.stdout is not None
        ended: str | None = None
        for line in run.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            with self._lock:
                self._apply(run, kind, event)
            if kind in ("done", "failed", "cancelled"):
                ended = kind
        code = run.process.wait()
        for reader in run.readers:
            if reader is not threading.current_thread():
                reader.join(timeout=1)
        if ended != "done" and run.current is not None and run.stop_requested and not run.keep_bytes:
            # Cancelled without keeping its bytes: a killed child never ran huggingface_hub's cleanup,
            # and the links it kept go too.
            self._remove_partials(run.plan, run.current)
            for link in run.kept:
                Path(link).unlink(missing_ok=True)
        with self._lock:
            run.ended_at = self._clock()
            run.kept = {k: v for k, v in run.kept.items() if os.path.isfile(k)}
            kept = _kept_size(run)
            if ended == "done":
                run.final = DownloadState.DONE
            elif run.stop_requested:
                run.final = DownloadState.CANCELLED
                run.lost_bytes = max(0, run.peak_current - kept) if run.current is not None else 0
            else:
                run.final = DownloadState.FAILED
                if ended == "cancelled":
                    run.error = "Its process was stopped by a signal from outside hftop."
                elif run.error is None:
                    run.error = (
                        f"The download process ended unexpectedly (exit status {code}). {run.last_log_line}"
                    ).strip()
                run.lost_bytes = max(0, run.peak_current - kept) if run.current is not None else 0

    def _apply(self, run: _Attempt, kind: str | None, event: dict[str, Any]) -> None:
        now = self._clock()
        if kind == "file":
            path = event.get("path")
            run.current = next((f for f in run.plan.files if f.path == path), None)
            run.current_written, run.received_at_write, run.peak_current = 0, run.received, 0
            run.received_at_file, run.transport, run.resumed_from = run.received, None, None
            run.range_start = None
        elif kind == "kept" and event.get("path"):
            run.kept[str(event["path"])] = str(event.get("partial") or "")
            for other in self._attempts.values():
                if other is not run:  # a new download of the same file resumes from them: they are its bytes now
                    other.kept.pop(str(event["path"]), None)
        elif kind == "resumed" and run.current is not None:
            run.resumed_from = int(event.get("bytes", 0))
            run.reused += run.resumed_from
            run.current_written, run.received_at_write = run.resumed_from, run.received
            run.received_at_file = run.received - run.resumed_from  # Xet's rule counts from the file's start
        elif kind == "progress" and run.current is not None:
            run.current_written = int(event.get("bytes", 0))
            run.received_at_write = int(event.get("received", run.received))
        elif kind == "transport":
            run.transport = str(event.get("name") or "") or None
        elif kind == "range" and run.current is not None:
            run.range_start = (int(event.get("start", 0)), int(event.get("received", run.received)))
        elif kind == "received":
            received = int(event.get("bytes", 0))
            grew, furthest = received > run.received, run.peak_current
            run.received = received
            if grew:
                run.last_received_at = now
                # Progress is a byte further into the file: over plain HTTP, a retry brings again bytes that
                # an earlier connection brought (from the last write step on), and that is no progress.
                if run.current is None or run.transport == "Xet" or run.current_bytes > furthest:
                    run.last_progress_at = now
            run.samples = pruned((*run.samples, ProgressSample(now, received)), now, RATE_WINDOW * 3)
        run.peak_current = max(run.peak_current, run.current_bytes)
        if kind == "file_done" and run.current is not None:
            if not run.current.cached:
                run.bytes_before_current += run.current.size
            run.files_done += 1
            run.current = None
            run.kept = {k: v for k, v in run.kept.items() if os.path.exists(k) and os.path.exists(v)}
        elif kind == "failed":
            run.error = event.get("message") or "The download failed."
            run.fresh_needed = bool(event.get("fresh"))

    def _stop(self, run: _Attempt, keep: bool = False) -> None:
        """SIGTERM (huggingface_hub cleans up, the kept links go) or, with `keep`, SIGUSR1 (the same stop,
        but the links stay); SIGKILL after STOP_GRACE."""
        process = run.process
        with self._lock:
            if run.final is not None or process is None:
                return
            run.stop_requested, run.keep_bytes = True, keep
        if process.poll() is None:  # not reaped yet, so its pid is still its group's id
            _signal_group(process.pid, signal.SIGUSR1 if keep else signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        # No signal after the runner is reaped: its pid, and so the group id, may belong to
        # another process by then. The runner starts no processes of its own.
        for reader in run.readers:
            reader.join(timeout=STOP_GRACE)

    def _blob_exists(self, plan: DownloadPlan, planned: PlannedFile) -> bool:
        return bool(planned.etag) and (self._repo_folder(plan) / "blobs" / planned.etag).exists()

    def _repo_folder(self, plan: DownloadPlan) -> Path:
        return self.cache_dir / repo_folder_name(repo_id=plan.request.repo_id, repo_type=plan.request.repo_type)

    def _remove_partials(self, plan: DownloadPlan, planned: PlannedFile) -> None:
        """Delete `blobs/<etag>.*.incomplete` of a file whose lock nobody holds any more."""
        if not planned.etag:
            return
        folder = self._repo_folder(plan)
        lock = self.cache_dir / ".locks" / folder.name / f"{planned.etag}.lock"
        if lock_is_held(lock):
            return  # another process is downloading the same blob: its partial is alive
        for partial in (folder / "blobs").glob(f"{planned.etag}*.incomplete"):
            partial.unlink(missing_ok=True)


def _kept_size(run: _Attempt) -> int:
    """Bytes of the largest partial the attempt kept a link to (what the next attempt resumes from)."""
    sizes = [0]
    for link in run.kept:
        try:
            sizes.append(os.stat(link).st_size)
        except OSError:
            pass
    return max(sizes)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
