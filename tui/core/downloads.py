"""Rates, ETA and the state of a download, from progress samples on an explicit clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from tui.core import formatting as fmt
from tui.core.download_plan import DownloadPlan, DownloadRequest, is_official_endpoint
from tui.core.xet_fetches import XetTurn

RATE_WINDOW = 10.0
"""Seconds of samples behind the speed shown for a download."""

SLOW_TAIL_RATIO = 0.25
"""A download whose recent speed falls under this share of its own average is in a slow tail."""

SLOW_TAIL_MIN_AGE = 15.0
"""Seconds a download must have run before its speed can be judged against its average."""

SHORT_RATE_WINDOWS = (3.0, 1.5)
"""Seconds of the shorter windows whose speed is shown while it is under half the longer one's."""

SLOW_TAIL_FRESH = 2.5
"""A slow tail is still moving: bytes came within this many seconds (else it is a pause, or a stall coming)."""

SLOW_TAIL_STEADY = 0.5
"""A slow tail keeps its pace: the speed of the last SHORT_RATE_WINDOWS[-1] seconds is at least this share of
the one it is judged on. A flow dying out (the last bytes of connections still open, before a stall) is not."""


class DownloadState(Enum):
    """Where a download stands. The value is what the dashboard shows."""

    STARTING = "starting"
    DOWNLOADING = "downloading"
    SLOW_TAIL = "slow tail"
    STALLED = "stalled"
    CANCELLING = "cancelling"
    FINISHING = "finishing"
    NO_SPACE = "disk full"
    WAITING = "waiting for lock"
    QUEUED = "queued"
    ORPHANED = "process gone"
    OWNER_UNKNOWN = "owner unknown"
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
    DownloadState.NO_SPACE,
    DownloadState.WAITING,
    DownloadState.QUEUED,
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


def current_rate(
    samples: Sequence[ProgressSample], now: float, windows: Sequence[float] = SHORT_RATE_WINDOWS
) -> float | None:
    """The speed over the last RATE_WINDOW seconds, or over a shorter window (`windows`) once that is
    under half the longer one's, and then the shortest one slower still: a download that slowed sharply
    (a slow tail) gets its new pace, and an ETA from it, within seconds instead of once the long window
    has emptied, even while a short window still holds some of the fast bytes."""
    rate = window_rate(samples, now)
    slowed = False
    for window in windows:
        short = window_rate(samples, now, window)
        if rate is None or short is None or short >= (rate if slowed else rate / 2):
            break
        rate, slowed = short, True
    return rate


def judged_rate(samples: Sequence[ProgressSample], now: float) -> float | None:
    """The speed a slow tail is judged on: the shortest window is left out, so a look that straddles
    the drop does not call a tail whose pace is not known yet."""
    return current_rate(samples, now, SHORT_RATE_WINDOWS[:1])


def latest_rate(samples: Sequence[ProgressSample], now: float) -> float | None:
    """The speed over the shortest window: whether a slow pace holds, or the flow is dying out."""
    return window_rate(samples, now, SHORT_RATE_WINDOWS[-1])


def growth_rate(samples: Sequence[ProgressSample], now: float, window: float = RATE_WINDOW * 6) -> float | None:
    """The pace a file is written at over the last `window` seconds, counted from its first growth in it: a
    file written in steps (10 MiB for plain HTTP, whole terms for Xet), or after a quiet start, gets the pace
    of its writes, not of the quiet before them. With fewer than two growths in the window, the plain window's."""
    grew = [b for a, b in zip(samples, samples[1:], strict=False) if b.done > a.done and b.at > now - window]
    if len(grew) < 2:
        return window_rate(samples, now, window)
    span = max(now, samples[-1].at) - grew[0].at
    return max(0, samples[-1].done - grew[0].done) / span if span > 0 else None


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
    latest_rate: float | None = None,
) -> DownloadState:
    """The state of a download whose process is alive.

    Stalled: no new bytes for `stall_after` seconds (counting from the start when none came yet).
    Slow tail: still moving (bytes within SLOW_TAIL_FRESH seconds), steadily (`latest_rate`, that of the
    shortest window, keeps SLOW_TAIL_STEADY of `recent_rate`), but at under a quarter of its own average
    since it started.
    """
    quiet_since = last_progress_at if last_progress_at is not None else started_at
    if now - quiet_since >= stall_after:
        return DownloadState.STALLED
    if last_progress_at is None:
        return DownloadState.STARTING
    age = now - started_at
    # Nothing at all lately is not a slow tail: it is a pause that may become a stall.
    if age >= SLOW_TAIL_MIN_AGE and recent_rate and done > 0 and now - quiet_since <= SLOW_TAIL_FRESH:
        average = done / age
        steady = latest_rate is None or latest_rate >= SLOW_TAIL_STEADY * recent_rate
        if recent_rate < SLOW_TAIL_RATIO * average and steady:
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
    endpoint: str = ""
    """The endpoint this attempt was started against."""
    remotes: tuple[str, ...] = ()
    """`host:port` of its process's established connections, the one that received the most first."""
    connections: int | None = None
    """How many connections its process has open; None when unknown."""
    net_idle: float | None = None
    """Seconds since data last arrived on any of them."""
    endpoint_addresses: frozenset[str] = frozenset()
    """The addresses the endpoint's host name resolves to."""
    transport: str | None = None
    """"Xet" or "plain HTTP", as huggingface_hub chose for the current file (its progress reporter says)."""
    kept_bytes: int = 0
    """Bytes of the unfinished file kept on disk by an attempt that ended: a retry resumes from them."""
    kept_paths: tuple[str, ...] = ()
    """The partial files holding its bytes, kept or being resumed (hftop's own, not another program's orphans)."""
    resumed_from: int | None = None
    """The current file continues from this many bytes kept by an earlier attempt or another program."""
    fresh_needed: bool = False
    """The last resume was refused (ranges ignored, a changed file, a failed hash): a retry starts afresh."""
    reused_bytes: int = 0
    """Bytes this attempt took from partial files on disk instead of fetching them."""
    on_disk: int = 0
    """Bytes of the current file written to its partial file (what a restart keeps)."""

    @property
    def stall_evidence(self) -> str | None:
        """What its process's connections say of a stall."""
        if self.state is not DownloadState.STALLED:
            return None
        if self.rate:  # bytes arrive (its supervisor keeps the speed of a stall only then): retries, no further
            return (
                f"no progress for {fmt.duration(self.quiet_for)}: bytes arrive, but each retry fetches again from "
                "its last write step and gets no further"
            )
        return network_evidence(self.connections, self.net_idle, self.quiet_for)

    @property
    def transport_why(self) -> str:
        asked = "; started with HF_HUB_DISABLE_XET=1" if self.plan.request.disable_xet else ""
        # Once it ended the current file is no longer known: a resume it made still names the transport.
        resumed = self.reused_bytes and self.transport != "Xet" and not self.state.active
        if self.resumed_from is not None or resumed:
            return f"resumed from bytes on disk with a Range request on the resolve URL (hf_xet cannot resume){asked}"
        if asked:
            return "started with HF_HUB_DISABLE_XET=1"
        if self.transport == "Xet":
            return "huggingface_hub hands the file to hf_xet (the Hub answered with its xet hash)"
        return "the file is not on Xet, or hf_xet is not installed"

    @property
    def request(self) -> DownloadRequest:
        return self.plan.request

    endpoint_is_hub: bool = False
    """The endpoint is a hub of its own, not a mirror (the demo's imitation of the Hub)."""

    @property
    def bytes_from(self) -> str | None:
        """The connection that received the most, when it is not the endpoint's own address."""
        if not self.remotes or not self.endpoint_addresses:
            return None
        busiest = self.remotes[0]
        return None if busiest.rsplit(":", 1)[0].strip("[]") in self.endpoint_addresses else busiest

    @property
    def bytes_elsewhere(self) -> str | None:
        """When a mirror is in use but the connection that received the most goes elsewhere (a CDN,
        Xet's data plane): that connection. None when the mirror itself serves, when the endpoint is the
        Hub or a hub of its own (its redirects to its CDN and Xet storage are its own), or nothing is known."""
        if self.endpoint_is_hub or is_official_endpoint(self.endpoint):
            return None
        return self.bytes_from

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
class KeptMark:
    """hftop's note on a partial file whose bytes it kept when its own download of it ended: the file is no
    dead writer's orphan, but a download the user cancelled (keeping the bytes) or one that failed."""

    why: str
    """"cancelled" or "failed"."""
    at: float
    """When (epoch seconds)."""
    message: str = ""
    """For a failure, why it failed, in words."""


@dataclass(frozen=True)
class PartialProgress:
    """How one partial file (any program's download) has moved while hftop watched it."""

    first_seen: float
    real_bytes: int
    expected_size: int | None
    rate: float | None
    eta: float | None
    quiet_for: float
    """Seconds since the last sign of progress: the file grew or bytes arrived on its process's sockets."""
    state: DownloadState
    evidence: tuple[str, ...] = ()
    """The observations behind the state, in words, most telling first."""
    done_bytes: int | None = None
    """Bytes fetched so far: those on disk, plus those received since the file last grew (plain HTTP
    writes 10 MiB steps); the ETA rests on it. None: the same as `real_bytes`."""

    @property
    def done(self) -> int:
        return self.real_bytes if self.done_bytes is None else self.done_bytes


@dataclass(frozen=True)
class CpuUse:
    """What a process's threads did between two looks, in shares of one core (they may add up past 1)."""

    ran: float
    waited: float | None = None
    """Ready to run but waiting for a CPU (a busy machine starves it); None where the kernel does not say."""
    threads: str = "its threads"
    """Whose work it is: all of the process's threads, or hf_xet's alone."""

    @property
    def busy(self) -> float:
        return self.ran + (self.waited or 0.0)


BUSY_SHARE = 0.25
"""A process whose threads ran or waited to run for this share of a core since the last look is working
(an idle or stalled hf_xet uses about 0.01)."""


@dataclass(frozen=True)
class PartialReading:
    """One look at a partial file, and at the process writing it."""

    real_bytes: int
    expected_size: int | None
    alive: bool
    """A live local process has the file open or holds its lock."""
    modified: float | None = None
    """Its modification time, on the same clock as `now`."""
    net_bytes: int | None = None
    """Bytes received so far on the writer's TCP sockets; None unless they are this file's alone
    (the writer has no other partial file open)."""
    net_idle: float | None = None
    """Seconds since data last arrived on any of those sockets (the kernel's own figure)."""
    connections: int | None = None
    """The writer's established TCP connections; None when they cannot be read."""
    free_bytes: int | None = None
    """Free space on the filesystem the file is written to."""
    hidden_owner: bool = False
    """Its lock is held by a process hftop cannot see (another container or machine)."""
    taken_over_by: int | None = None
    """The local process now holding its lock while writing a partial file of its own: a take-over."""
    started: float | None = None
    """When the writing process started, on the same clock as `now`: the start of its average speed."""
    stopped: bool = False
    """The writing process is stopped (state T: Ctrl+Z, SIGSTOP, a debugger): it does nothing until continued."""
    writer: int | None = None
    """The writing process's pid, for the evidence."""
    sharing: int = 1
    """How many of its process's files share the socket bytes in `net_bytes` (evenly)."""
    xet: bool = False
    """The writer fetches over Xet: hf_xet writes whole terms in file order and buffers far ahead of them."""
    process_receiving: bool = False
    """It has no socket of its own and its process, which writes several files, received bytes since
    the last look: for its other files, if none came for this one."""
    cpu: CpuUse | None = None
    """What the writing process did since the last look; None at the first look."""
    position: int | None = None
    """How far into the file its connections got (bytes on disk plus those arriving), where that can be
    told (plain HTTP, one file): a retry that brings again what an earlier connection brought is no
    progress."""
    turn: XetTurn | None = None
    """Over Xet, for one of its process's several files: its place among hf_xet's term fetches."""
    kept: KeptMark | None = None
    """hftop kept its bytes when its own download of it was cancelled or failed (on the same clock as `now`)."""


@dataclass
class _Watched:
    first_seen: float
    first_bytes: int
    last_growth: float | None = None
    grew_while_ownerless: bool = False
    was_alive: bool = False
    """A local writer had the file at the previous look."""
    samples: tuple[ProgressSample, ...] = ()
    net_samples: tuple[ProgressSample, ...] = ()
    net_base: tuple[int, int] | None = None
    """(bytes fetched, bytes received on the writer's sockets) when first seen, or when a socket closed
    since: what arrived after it is fetched, written or not."""
    last_net: int | None = None
    received: int = 0
    """Bytes its sockets received while watched (not what they held at the first look)."""
    worked: tuple[float, CpuUse] | None = None
    """When its process was last seen working (see `_works`), and what it did then."""
    off_socket: bool = False
    """Its sockets do not carry it, as of the last look (see `_off_socket`)."""
    first_unwritten: int = 0
    """What its writer's sockets had received beyond the file's bytes when first seen: bytes hf_xet may hold
    and write later without a new one arriving."""
    furthest: int = 0
    """The furthest its connections got into the file (see `PartialReading.position`)."""
    refetched: bool = False
    """Since the last progress, a connection brought again bytes short of `furthest`: its retries fetch
    what it had."""


WRITE_STEP = 10 << 20
"""huggingface_hub writes a plain-HTTP download to its partial file in steps of this many bytes."""

POSITION_SLACK = 4 << 10
"""How much further a connection must get than the furthest one before it counts as progress: a retry's
answer carries a few more header bytes than the first one."""

DISK_FULL_MARGIN = 1 << 20
"""Free bytes under which a disk counts as full whatever is left to fetch."""


class PartialProgressTracker:
    """Turns successive readings of partial files into speed, ETA, a state and its evidence.

    Growth on disk is coarse (huggingface_hub writes plain HTTP in 10 MiB steps), so bytes arriving
    on the writer's sockets count as progress too, when they can be told apart from its other
    downloads'. Without them, a slow download can look quiet for a while; the stall threshold is
    minutes for that reason.
    """

    def __init__(self) -> None:
        self._watched: dict[str, _Watched] = {}

    def observe(
        self, now: float, readings: dict[str, PartialReading], stall_after: float
    ) -> dict[str, PartialProgress]:
        """One look at every partial file (key → reading); files no longer there are forgotten."""
        self._watched = {k: w for k, w in self._watched.items() if k in readings}
        result = {}
        for key, r in readings.items():
            w = self._watched.get(key)
            if w is not None:
                if r.net_bytes is not None and w.last_net is not None:
                    w.received += max(0, r.net_bytes - w.last_net)
                w.last_net = r.net_bytes
                w.off_socket = _off_socket(w, r)
                if w.off_socket:
                    # Its file holds far more than its sockets brought: they do not carry it (a local://
                    # CAS, a connection out of sight). It is judged by its file and its process alone.
                    r = replace(r, net_bytes=None, net_idle=None)
            if w is None:
                # The file's modification time and the kernel's last-data time say when it last moved,
                # before hftop was watching.
                known = [t for t in (r.modified, None if r.net_idle is None else now - r.net_idle) if t is not None]
                last = max(known) if known else None
                w = self._watched[key] = _Watched(
                    first_seen=now,
                    first_bytes=r.real_bytes,
                    last_growth=last if last is None or last <= now else now,
                    last_net=r.net_bytes,
                    first_unwritten=0 if r.net_bytes is None else max(0, r.net_bytes - r.real_bytes),
                )
            else:
                grew = bool(w.samples) and r.real_bytes > w.samples[-1].done
                received = r.net_bytes is not None and bool(w.net_samples) and r.net_bytes > w.net_samples[-1].done
                further = r.position is None or r.position > w.furthest + POSITION_SLACK
                if grew or (received and further):
                    w.last_growth = now
                    w.refetched = False
                elif r.position is not None and r.position < w.furthest - POSITION_SLACK:
                    w.refetched = True  # a new connection covers again what an earlier one brought
                # Growth counts as a hidden writer's only between two looks that both found no local
                # writer: bytes written just before a process died are its own.
                if grew and not r.alive and not w.was_alive:
                    w.grew_while_ownerless = True
            w.was_alive = r.alive
            if r.position is not None and r.position > w.furthest + POSITION_SLACK:
                w.furthest = r.position
            if r.cpu is not None and _works(r):
                w.worked = (now, r.cpu)
            if r.net_bytes is None:
                w.net_base = None
            elif w.net_base is None:
                # Sockets that carried this file alone hold at most one unwritten step more than the
                # file: count it. More (a connection that carried other files first), or less (a
                # retry from the last step), says nothing: count the file alone.
                # hf_xet holds up to hundreds of MB not yet written: any amount that fits the rest of the file.
                unwritten = r.net_bytes - r.real_bytes
                if r.xet:
                    counts = unwritten >= 0 and (
                        r.expected_size is None or r.net_bytes <= r.expected_size + SOCKET_SLACK
                    )
                else:
                    counts = 0 <= unwritten < WRITE_STEP
                w.net_base = (r.real_bytes + (unwritten if counts else 0), r.net_bytes)
            elif w.net_samples and r.net_bytes < w.net_samples[-1].done:
                w.net_base = (r.real_bytes, r.net_bytes)  # a connection closed (a retry)
            w.samples = pruned((*w.samples, ProgressSample(now, r.real_bytes)), now, RATE_WINDOW * 6)
            if r.net_bytes is None:
                w.net_samples = ()
            else:
                w.net_samples = pruned((*w.net_samples, ProgressSample(now, r.net_bytes)), now, RATE_WINDOW * 6)
            result[key] = partial_progress(w, now, r, stall_after)
        return result


def _off_socket(w: _Watched, r: PartialReading) -> bool:
    """The file grew by over four times what its own sockets received while watched, and by more than they
    can have brought before: its bytes come some other way. Before, plain HTTP holds up to a write step
    unwritten; hf_xet, what its sockets had received beyond the file when first seen (it writes whole terms)."""
    grown = r.real_bytes - w.first_bytes
    if r.net_bytes is None or r.sharing != 1 or 4 * w.received >= grown:
        return False
    held = w.first_unwritten if r.xet else WRITE_STEP
    return grown > held + SOCKET_SLACK


def _works(r: PartialReading) -> bool:
    """Its process is busy, where that is progress no socket or file shows: hf_xet decodes and writes what it
    buffered, and a writer whose sockets do not carry the file (or has none) can only be seen working."""
    return r.alive and r.cpu is not None and r.cpu.busy >= BUSY_SHARE and (r.xet or r.net_bytes is None)


def partial_progress(w: _Watched, now: float, reading: PartialReading, stall_after: float) -> PartialProgress:
    """The verdict on one partial file, from what was seen of it so far."""
    r = reading
    real, expected = r.real_bytes, r.expected_size
    # Socket counters give a true speed; disk growth needs a wider window (it comes in 10 MiB steps).
    if len(w.net_samples) > 1:
        rate = current_rate(w.net_samples, now)
    else:
        rate = growth_rate(w.samples, now)
    quiet_since = w.last_growth if w.last_growth is not None else w.first_seen
    quiet = now - quiet_since
    fetched = real
    if r.position is not None:
        fetched = r.position
    elif r.net_bytes is not None and w.net_base is not None:
        fetched = max(real, w.net_base[0] + r.net_bytes - w.net_base[1])  # arrived, maybe not written yet
        if expected is not None:
            fetched = min(fetched, expected)
    remaining = None if expected is None else max(0, expected - fetched)
    evidence: list[str] = []

    if not r.alive:
        if r.hidden_owner or w.grew_while_ownerless:
            state = DownloadState.OWNER_UNKNOWN
            evidence.append(
                "its lock is held by a process hftop cannot see"
                if r.hidden_owner
                else "it grew while no local process had it open"
            )
            evidence.append("its writer runs elsewhere: another machine or container sharing this cache")
        elif r.kept is not None and r.taken_over_by is None:
            when = _ago(now - r.kept.at)
            if r.kept.why == "cancelled":
                state = DownloadState.CANCELLED
                evidence.append(f"cancelled in hftop {when}, its bytes kept for a resume (hftop's mark on the file)")
            else:
                state = DownloadState.FAILED
                evidence.append(f"hftop's download of it failed {when}: {r.kept.message or 'no reason given'}")
                evidence.append("its bytes are kept for a resume (hftop's mark on the file)")
            evidence.append("huggingface_hub never resumes a partial file; hftop can (R, or hftop resume)")
        elif r.taken_over_by is not None:
            state = DownloadState.ORPHANED
            evidence.append(
                f"no local process has it open; pid {r.taken_over_by} took its lock over and writes a file of its own"
            )
            evidence.append("huggingface_hub never resumes a partial file; hftop can (R, or hftop resume)")
        else:
            state = DownloadState.ORPHANED
            evidence.append("no local process has it open and its lock is free")
            evidence.append("huggingface_hub never resumes a partial file; hftop can (R, or hftop resume)")
        evidence.append(f"last written {_ago(quiet)}" if real else f"created {_ago(quiet)}, never written")
        rate = None
    elif r.stopped:
        state = DownloadState.STALLED
        pid = f" {r.writer}" if r.writer is not None else ""
        evidence.append(f"its process{pid} is stopped (state T: Ctrl+Z or SIGSTOP); kill -CONT{pid} lets it go on")
        evidence.append(f"last progress {_ago(quiet)}")
        rate = None
    elif expected and real >= expected:
        if quiet >= stall_after:
            state = DownloadState.STALLED
            evidence.append(
                f"full size on disk for {fmt.duration(quiet)}, yet huggingface_hub has not moved it into place "
                "(that takes a moment)"
            )
        else:
            state = DownloadState.FINISHING
            evidence.append("full size on disk; huggingface_hub is moving it into place")
    elif r.free_bytes is not None and (
        r.free_bytes < DISK_FULL_MARGIN or (remaining is not None and remaining > r.free_bytes)
    ):
        state = DownloadState.NO_SPACE
        left = f"{fmt.size(remaining)} left to fetch, " if remaining is not None else ""
        evidence.append(f"{left}{fmt.size(r.free_bytes)} free on its disk")
        evidence.append(f"last grew {_ago(quiet)}")
    else:
        # The average a slow tail is judged against runs from the writer's start, so one look of a
        # few seconds (`hftop doctor`) can tell a slow tail as the dashboard does after minutes.
        if r.started is not None and r.started < w.first_seen:
            started_at, done = r.started, r.net_bytes if r.net_bytes is not None and len(w.net_samples) > 1 else real
        else:
            started_at, done = w.first_seen, real - w.first_bytes
        # Quiet time counts from the last sign of progress, else from the first look (never from the
        # process start: it may have waited for a lock first). It was running when first seen.
        state = running_state(
            now=now,
            started_at=started_at,
            last_progress_at=quiet_since,
            done=done,
            recent_rate=judged_rate(w.net_samples, now) if len(w.net_samples) > 1 else rate,
            stall_after=stall_after,
            latest_rate=latest_rate(w.net_samples, now) if len(w.net_samples) > 1 else None,
        )
        if state is DownloadState.STALLED and w.worked is not None and now - w.worked[0] < stall_after:
            # No new bytes, but its process works: it decodes what it holds, or waits for a busy CPU.
            state = DownloadState.DOWNLOADING
            evidence.append(f"no new bytes for {fmt.duration(quiet)}, but {_work(*w.worked, now)}")
        elif (
            r.turn is not None
            and r.turn.slots == 0
            and r.turn.files_ahead > 0
            and state is not DownloadState.SLOW_TAIL
            and quiet >= SLOW_TAIL_FRESH
        ):
            # hf_xet's log says its term fetches all go to files queued before this one.
            state = DownloadState.QUEUED
            others = f"{r.turn.files_ahead} other file{'s' if r.turn.files_ahead != 1 else ''}"
            evidence.append(
                f"its turn has not come: hf_xet fetches {r.turn.concurrency} terms at a time, first queued first "
                f"(its log), and all go to {others} of its process now"
            )
        elif state is DownloadState.STALLED and r.process_receiving:
            # Nothing of its own, while its process receives for its other files: its turn is to come.
            state = DownloadState.QUEUED
            evidence.append(
                f"nothing of its own for {fmt.duration(quiet)}, while its process receives for its other files: "
                "it waits its turn"
            )
        else:
            evidence.extend(_moving_evidence(state, r, quiet, rate, w))

    return PartialProgress(
        first_seen=w.first_seen,
        real_bytes=real,
        expected_size=expected,
        rate=rate,
        eta=eta_seconds(remaining, rate) if state.active else None,
        quiet_for=quiet,
        state=state,
        evidence=tuple(evidence),
        done_bytes=fetched if fetched != real else None,
    )


def _moving_evidence(
    state: DownloadState, r: PartialReading, quiet: float, rate: float | None, w: _Watched
) -> list[str]:
    evidence = []
    if state is DownloadState.STALLED and w.refetched:
        evidence.append(
            f"no byte past {fmt.size(w.furthest)} for {fmt.duration(quiet)}: bytes arrive, but each retry fetches "
            f"again from {fmt.size(r.real_bytes)} (its last 10 MiB step on disk) and gets no further"
        )
    elif state is DownloadState.STALLED:
        evidence.append(
            network_evidence(r.connections, r.net_idle, quiet) or f"the file has not grown for {fmt.duration(quiet)}"
        )
    elif len(w.net_samples) > 1 and rate and r.turn is not None and r.turn.slots:
        evidence.append(
            f"{fmt.rate(rate)}: its part of what its process receives, {r.turn.slots} of the {r.turn.concurrency} "
            "terms hf_xet fetches at once being its own (its log says which files it fetches, in what order)"
        )
    elif len(w.net_samples) > 1 and rate and r.sharing > 1:
        evidence.append(f"{fmt.rate(rate)}: its even share of what its process receives for {r.sharing} files at once")
    elif len(w.net_samples) > 1 and rate:
        evidence.append(f"{fmt.rate(rate)} arriving on its {_connections(r.connections)}")
    elif rate and w.off_socket:
        evidence.append(
            f"the file grows at {fmt.rate(rate)}; its process's sockets brought {fmt.size(w.received)} of it "
            "(its bytes come some other way: a local CAS, a connection out of sight)"
        )
    elif rate:
        steps = "in whole Xet terms" if r.xet else "in 10 MiB steps for plain HTTP"
        evidence.append(f"the file grows at {fmt.rate(rate)} ({steps})")
    elif r.net_idle is not None:
        evidence.append(f"last data arrived {_ago(r.net_idle)}")
    else:
        evidence.append(f"last grew {_ago(quiet)}")
    if state is DownloadState.SLOW_TAIL:
        evidence.append("well under its own average speed")
    return evidence


def _work(at: float, cpu: CpuUse, now: float) -> str:
    when = "" if now - at < 1 else f" ({_ago(now - at)})"
    if cpu.waited is not None and cpu.waited > cpu.ran:
        return (
            f"its process works, starved of CPU: each second {cpu.threads} ran {cpu.ran:.2f} s and waited "
            f"{cpu.waited:.2f} s for a CPU{when} (the machine is busy)"
        )
    return f"its process works: {cpu.threads} ran {cpu.ran:.0%} of a core{when}"


def network_evidence(connections: int | None, idle: float | None, quiet: float) -> str | None:
    """What a stalled download's connections say: none open, or open and idle; None when unknown."""
    if connections == 0:
        return f"no bytes for {fmt.duration(quiet)} and no open connection"
    if idle is not None:
        return f"network idle: {_connections(connections)} open, nothing received for {fmt.duration(idle)}"
    return None


def _connections(n: int | None) -> str:
    return "connections" if n is None else fmt.count(n, "connection")


def _ago(seconds: float) -> str:
    return "just now" if seconds < 1 else f"{fmt.duration(seconds)} ago"


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
    notes: tuple[str, ...] = ()
    """Evidence from outside the file: hf_xet's log, who waits for its lock."""
    waiting_for: int | None = None
    """For a process waiting on the lock: the pid holding it."""
    owner_started: float | None = None
    """When the owning process started (epoch seconds)."""
    owner_cpu: float | None = None
    """The owning process's CPU use since the last look, in percent of one core."""
    transport: tuple[str, str] | None = None
    """How its process fetches ("Xet" or "plain HTTP") and how hftop knows; None without a live writer."""
    kept: KeptMark | None = None
    """hftop kept these bytes when its own download of the file was cancelled or failed."""

    @property
    def label(self) -> str:
        if self.repo_type == "local":
            return f"{self.repo_id} (local dir)"
        return self.repo_id if self.repo_type == "model" else f"{self.repo_type}s/{self.repo_id}"

    @property
    def state(self) -> DownloadState:
        return self.progress.state

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.progress.evidence + self.notes


def row_key(row: DownloadView | ExternalDownload) -> str:
    """The key a download keeps across refreshes: hftop's own by id, another program's by its partial file."""
    return f"own:{row.id}" if isinstance(row, DownloadView) else f"partial:{row.key}"


def lock_wait_progress(
    *,
    first_seen: float,
    now: float,
    expected_size: int | None,
    holder_pid: int,
    holder_command: str | None,
    holder: ExternalDownload | None,
) -> PartialProgress:
    """The verdict on a process that waits for a blob's lock while `holder_pid` downloads that blob."""
    evidence = [f"PID {holder_pid} holds the file's lock" + (f": {holder_command}" if holder_command else "")]
    if holder is not None:
        p = holder.progress
        of = f" of {fmt.size(p.expected_size)}" if p.expected_size else ""
        evidence.append(f"PID {holder_pid} is fetching the same file: {fmt.size(p.real_bytes)}{of}, {p.state.value}")
        if holder.state in (DownloadState.STALLED, DownloadState.NO_SPACE):
            evidence.append(f"that download is {holder.state.value}: stop PID {holder_pid} and this one fetches it")
        else:
            evidence.append(f"this one goes on when PID {holder_pid} is done, and finds the file cached")
    return PartialProgress(
        first_seen=first_seen,
        real_bytes=0,
        expected_size=expected_size,
        rate=None,
        eta=holder.progress.eta if holder is not None else None,
        quiet_for=now - first_seen,
        state=DownloadState.WAITING,
        evidence=tuple(evidence),
    )


@dataclass(frozen=True)
class SocketSample:
    """One of a process's TCP sockets at one look."""

    inode: int
    bytes_received: int
    idle: float
    """Seconds since data last arrived on it."""


@dataclass(frozen=True)
class FileShare:
    """What one of a process's partial files got of the bytes its sockets received since the last look."""

    received: int
    idle: float | None
    tied_to: int | None
    """The socket that carries this file alone, when one can be told; else the file shares the rest."""
    sharing: int
    """How many files shared the bytes this file's figure comes from (1 for a tied socket)."""
    process_received: int = 0
    """What all of the process's sockets received since the last look."""
    turn: XetTurn | None = None
    """Over Xet, its place among hf_xet's term fetches, which its share follows."""


SOCKET_SLACK = 64 << 10
"""Bytes a socket carries besides the file's body (headers, a HEAD before it)."""


def share_out(
    files: Mapping[str, int],
    sockets: Sequence[SocketSample],
    ties_before: Mapping[str, int],
    bytes_before: Mapping[int, int] | None,
    pooled: bool = False,
    turns: Mapping[str, XetTurn] | None = None,
) -> dict[str, FileShare]:
    """Share a process's socket bytes out among the partial files it writes (snapshot_download's workers).

    A socket that carried one file alone holds that file's bytes on disk plus at most one unwritten
    10 MiB step: where exactly one socket fits a file so (or kept fitting since the last look), the file
    is tied to it. Files that fit the same sockets share their new bytes evenly. `files` maps each file to
    its bytes on disk; `bytes_before` is each socket's count at the last look (None: the first look, when
    only a tied socket's bytes are known to be its file's). `pooled`: the process is hf_xet, which fetches
    any file's terms on any connection and buffers far ahead of the files, so no socket is ever one file's;
    `turns` (keyed as `files`, from hf_xet's log) then share its bytes by each file's term fetches, which
    receive alike (a link shares itself out by connection), instead of evenly.
    """
    by_inode = {s.inode: s for s in sockets}

    def fits(key: str, s: SocketSample) -> bool:
        return 0 <= s.bytes_received - files[key] < WRITE_STEP + SOCKET_SLACK

    ties: dict[str, int] = {}
    for key, inode in () if pooled else ties_before.items():
        s = by_inode.get(inode)
        if key in files and s is not None and fits(key, s) and inode not in ties.values():
            ties[key] = inode
    free_files = [k for k in files if k not in ties]
    free_sockets = [s for s in sockets if s.inode not in ties.values()]
    candidates = {k: [] if pooled else [s.inode for s in free_sockets if fits(k, s)] for k in free_files}
    for key, fitting in candidates.items():
        if len(fitting) == 1 and sum(fitting[0] in c for c in candidates.values()) == 1:
            ties[key] = fitting[0]

    def new_bytes(s: SocketSample) -> int:
        if bytes_before is None:
            return 0
        before = bytes_before.get(s.inode)
        return s.bytes_received if before is None else max(0, s.bytes_received - before)

    everything = sum(new_bytes(s) for s in sockets)
    # A tied socket's bytes are its file's, those before the first look too (what arrived, written or not).
    shares = {
        key: FileShare(new_bytes(s) if bytes_before is not None else s.bytes_received, s.idle, inode, 1, everything)
        for key, inode in ties.items()
        for s in (by_inode[inode],)
    }
    # Files that fit the same sockets share those sockets' new bytes (equal rates cannot be told
    # apart, and need not be); the narrowest groups claim their sockets first, the rest share what is left.
    groups: dict[frozenset[int], list[str]] = {}
    for key in files:
        if key not in ties:
            groups.setdefault(frozenset(candidates.get(key, ())), []).append(key)
    claimed: set[int] = set(ties.values())
    pools = []
    for fit, keys in sorted(groups.items(), key=lambda g: (not g[0], len(g[0]))):
        pool = [by_inode[i] for i in fit - claimed] if fit else [s for s in sockets if s.inode not in claimed]
        claimed |= {s.inode for s in pool}
        pools.append((keys, pool))
    # Sockets that fit no file (a connection reused after another file, one that carried more than a step
    # ahead) carry some untied file's bytes: every untied file shares them.
    rest = [s for s in sockets if s.inode not in claimed]
    untied = sum(len(keys) for keys, _ in pools)
    extra = sum(new_bytes(s) for s in rest) // max(1, untied)
    fetches = sum(t.slots for t in turns.values()) if pooled and turns else 0
    for keys, pool in pools:
        total = sum(new_bytes(s) for s in pool)
        idle = min((s.idle for s in (*pool, *rest)), default=None)
        for key in keys:
            turn = turns.get(key) if fetches and turns else None
            if turn is not None:
                shares[key] = FileShare(total * turn.slots // fetches, idle, None, len(keys), everything, turn)
                continue
            shares[key] = FileShare(total // len(keys) + extra, idle, None, untied if rest else len(keys), everything)
    return shares
