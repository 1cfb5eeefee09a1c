"""Rates, ETA and the state of a download, from progress samples on an explicit clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from tui.core.download_plan import DownloadPlan, DownloadRequest

RATE_WINDOW = 10.0
"""Seconds of samples behind the speed shown for a download."""

SLOW_TAIL_RATIO = 0.25
"""A download whose recent speed falls under this share of its own average is in a slow tail."""

SLOW_TAIL_MIN_AGE = 15.0
"""Seconds a download must have run before its speed can be judged against its average."""


class DownloadState(Enum):
    """Where a download stands. The value is what the dashboard shows."""

    STARTING = "starting"
    DOWNLOADING = "downloading"
    SLOW_TAIL = "slow tail"
    STALLED = "stalled"
    CANCELLING = "cancelling"
    FINISHING = "finishing"
    ORPHANED = "process gone"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """True while a process works on the download."""
        return self in _ACTIVE


_ACTIVE = {
    DownloadState.STARTING,
    DownloadState.DOWNLOADING,
    DownloadState.SLOW_TAIL,
    DownloadState.STALLED,
    DownloadState.CANCELLING,
    DownloadState.FINISHING,
}


@dataclass(frozen=True)
class ProgressSample:
    """Bytes done at a moment (seconds on a monotonic clock)."""

    at: float
    done: int


def window_rate(samples: Sequence[ProgressSample], now: float, window: float = RATE_WINDOW) -> float | None:
    """Bytes per second over the last `window` seconds; None before two samples span any time.

    The sample just before the window is kept as its left edge, so a download that made no
    progress inside the window shows 0 B/s instead of no figure at all.
    """
    if not samples:
        return None
    start = 0
    for i, sample in enumerate(samples):
        if sample.at <= now - window:
            start = i
    first, last = samples[start], samples[-1]
    span = max(now, last.at) - first.at
    if span <= 0:
        return None
    return max(0, last.done - first.done) / span


def eta_seconds(remaining: int | None, rate: float | None) -> float | None:
    """Seconds left at `rate`; None when the rate is unknown or zero, or the size unknown."""
    if remaining is None or rate is None or rate <= 0:
        return None
    return max(0, remaining) / rate


def pruned(samples: Sequence[ProgressSample], now: float, keep: float) -> tuple[ProgressSample, ...]:
    """Samples of the last `keep` seconds, plus the one just before them (the window's left edge)."""
    recent = [s for s in samples if s.at > now - keep]
    older = [s for s in samples if s.at <= now - keep]
    return tuple(older[-1:] + recent)


def running_state(
    *,
    now: float,
    started_at: float,
    last_progress_at: float | None,
    done: int,
    recent_rate: float | None,
    stall_after: float,
) -> DownloadState:
    """The state of a download whose process is alive.

    Stalled: no new bytes for `stall_after` seconds (counting from the start when none came yet).
    Slow tail: still moving (some bytes in the rate window), but at under a quarter of its own
    average since it started.
    """
    quiet_since = last_progress_at if last_progress_at is not None else started_at
    if now - quiet_since >= stall_after:
        return DownloadState.STALLED
    if last_progress_at is None:
        return DownloadState.STARTING
    age = now - started_at
    # Nothing at all in the window is not a slow tail: it is a pause that may become a stall.
    if age >= SLOW_TAIL_MIN_AGE and recent_rate and done > 0:
        average = done / age
        if recent_rate < SLOW_TAIL_RATIO * average:
            return DownloadState.SLOW_TAIL
    return DownloadState.DOWNLOADING


@dataclass(frozen=True)
class DownloadView:
    """One download as the dashboard shows it, at one moment."""

    id: int
    plan: DownloadPlan
    state: DownloadState
    attempt: int
    """1 for the first run, +1 for each retry."""
    pid: int | None
    current_file: str | None
    files_done: int
    done_bytes: int
    """Bytes fetched by this attempt (finished files and the current one)."""
    total_bytes: int
    """Bytes this attempt has to fetch."""
    partial_bytes: int
    """Bytes of the current file: what a restart now throws away."""
    rate: float | None
    eta: float | None
    age: float
    """Seconds since this attempt started."""
    quiet_for: float
    """Seconds since the last new byte (or since the start when none came yet)."""
    error: str | None
    lost_bytes: int
    """Bytes the previous attempt threw away (a failure, a cancel or a restart)."""

    @property
    def request(self) -> DownloadRequest:
        return self.plan.request

    @property
    def fraction(self) -> float | None:
        if self.state is DownloadState.DONE:
            return 1.0
        return self.done_bytes / self.total_bytes if self.total_bytes else None


def running_overlap(plan: DownloadPlan, views: Sequence[DownloadView]) -> DownloadView | None:
    """A running download of the same repo that fetches one of the plan's files, if any.

    Two processes on one file wait on each other's lock: the second would only look stalled.
    """
    paths = {f.path for f in plan.files}
    for view in views:
        same_repo = (view.request.repo_type, view.request.repo_id) == (plan.request.repo_type, plan.request.repo_id)
        if view.state.active and same_repo and paths & {f.path for f in view.plan.files}:
            return view
    return None


@dataclass(frozen=True)
class PartialProgress:
    """How one partial file (any program's download) has moved while hftop watched it."""

    first_seen: float
    real_bytes: int
    expected_size: int | None
    rate: float | None
    eta: float | None
    quiet_for: float
    """Seconds since the file last grew (or since hftop first saw it)."""
    state: DownloadState


@dataclass(frozen=True)
class PartialReading:
    """One look at a partial file."""

    real_bytes: int
    expected_size: int | None
    alive: bool
    """A live process has the file open."""
    modified: float | None = None
    """Its modification time, on the same clock as `now`."""


@dataclass
class _Watched:
    first_seen: float
    first_bytes: int
    last_growth: float | None = None
    samples: tuple[ProgressSample, ...] = ()


class PartialProgressTracker:
    """Turns successive readings of partial files into speed, ETA and a state.

    Growth on disk is coarse (huggingface_hub writes plain HTTP in 10 MiB steps), so a slow
    download can look quiet for a while; the stall threshold is minutes for that reason.
    """

    def __init__(self) -> None:
        self._watched: dict[str, _Watched] = {}

    def observe(self, now: float, readings: dict[str, PartialReading], stall_after: float) -> dict[str, PartialProgress]:
        """One look at every partial file (key → reading); files no longer there are forgotten."""
        self._watched = {k: w for k, w in self._watched.items() if k in readings}
        result = {}
        for key, r in readings.items():
            w = self._watched.get(key)
            if w is None:
                # The file's modification time says when it last grew, before hftop was watching.
                modified = r.modified if r.modified is not None and r.modified <= now else None
                w = self._watched[key] = _Watched(first_seen=now, first_bytes=r.real_bytes, last_growth=modified)
            elif w.samples and r.real_bytes > w.samples[-1].done:
                w.last_growth = now
            w.samples = pruned((*w.samples, ProgressSample(now, r.real_bytes)), now, RATE_WINDOW * 6)
            result[key] = partial_progress(w, now, r, stall_after)
        return result


def partial_progress(w: _Watched, now: float, reading: PartialReading, stall_after: float) -> PartialProgress:
    real, expected, alive = reading.real_bytes, reading.expected_size, reading.alive
    # A wider window than for hftop's own downloads: disk growth comes in 10 MiB steps.
    rate = window_rate(w.samples, now, window=RATE_WINDOW * 6)
    if not alive:
        state = DownloadState.ORPHANED
    elif expected and real >= expected:
        state = DownloadState.FINISHING
    else:
        state = running_state(
            now=now,
            started_at=w.first_seen,
            last_progress_at=w.last_growth,
            done=real - w.first_bytes,
            recent_rate=rate,
            stall_after=stall_after,
        )
        if state is DownloadState.STARTING:
            state = DownloadState.DOWNLOADING  # already running when hftop first saw it
    quiet_since = w.last_growth if w.last_growth is not None else w.first_seen
    return PartialProgress(
        first_seen=w.first_seen,
        real_bytes=real,
        expected_size=expected,
        rate=rate if alive else None,
        eta=eta_seconds(expected - real, rate) if expected and alive else None,
        quiet_for=now - quiet_since,
        state=state,
    )


@dataclass(frozen=True)
class ExternalDownload:
    """A partial file in the cache that hftop did not start: another program's download, or its remains."""

    key: str
    """The partial file's path."""
    repo_type: str
    repo_id: str
    etag: str
    file_name: str | None
    commit: str | None
    """The commit the file belongs to, when a tree listing says; with the name, enough to fetch it again."""
    owner_pid: int | None
    owner_command: str | None
    owner_status: str | None
    owner_remotes: tuple[str, ...]
    """Where the owner is connected to (`host:port`): the Hub, a mirror, a CDN."""
    lock_holder: int | None
    progress: PartialProgress

    @property
    def label(self) -> str:
        return self.repo_id if self.repo_type == "model" else f"{self.repo_type}s/{self.repo_id}"

    @property
    def state(self) -> DownloadState:
        return self.progress.state
