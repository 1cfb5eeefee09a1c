"""Rates, ETA and download states on an explicit clock."""

from __future__ import annotations

import pytest

from tui.core.download_plan import DownloadPlan, DownloadRequest, PlannedFile
from tui.core.downloads import (
    CpuUse,
    DownloadState,
    DownloadView,
    KeptMark,
    PartialProgressTracker,
    PartialReading,
    ProgressSample,
    SocketSample,
    current_rate,
    eta_seconds,
    growth_rate,
    pruned,
    running_overlap,
    running_state,
    share_out,
    window_rate,
)
from tui.core.xet_fetches import XetTurn

S = ProgressSample


@pytest.mark.parametrize(
    ("samples", "now", "expected"),
    [
        pytest.param([], 10.0, None, id="no-samples"),
        pytest.param([S(10.0, 0)], 10.0, None, id="one-sample-no-span"),
        pytest.param([S(0.0, 0), S(10.0, 10_000)], 10.0, 1000.0, id="steady"),
        pytest.param([S(0.0, 0), S(5.0, 50_000), S(20.0, 60_000)], 20.0, 10_000 / 15, id="window-keeps-left-edge"),
        pytest.param([S(0.0, 0), S(10.0, 10_000)], 30.0, 0.0, id="nothing-inside-window-is-zero"),
        pytest.param([S(0.0, 5_000), S(10.0, 5_000)], 10.0, 0.0, id="no-progress-is-zero-not-unknown"),
        pytest.param([S(0.0, 5_000), S(10.0, 1_000)], 10.0, 0.0, id="counter-going-back-never-negative"),
    ],
)
def test_window_rate(samples, now, expected):
    assert window_rate(samples, now, window=10.0) == expected


@pytest.mark.parametrize(
    ("remaining", "rate", "expected"),
    [
        pytest.param(1000, 100.0, 10.0, id="plain"),
        pytest.param(1000, 0.0, None, id="zero-rate"),
        pytest.param(1000, None, None, id="unknown-rate"),
        pytest.param(None, 100.0, None, id="unknown-size"),
        pytest.param(-5, 100.0, 0.0, id="overshoot"),
    ],
)
def test_eta_seconds(remaining, rate, expected):
    assert eta_seconds(remaining, rate) == expected


def _steady(rate: float, until: int, then: float = 0.0, after: int = 0) -> list[ProgressSample]:
    done, samples = 0, []
    for t in range(until + after + 1):
        samples.append(ProgressSample(float(t), int(done)))
        done += rate if t < until else then
    return samples


@pytest.mark.parametrize(
    ("samples", "now", "expected"),
    [
        pytest.param(_steady(1000, 20), 20.0, 1000.0, id="steady-the-long-window"),
        # 20 MB/s, then 86 kB/s for 4 s: the long window still says 8 MB/s, the short one the new pace.
        pytest.param(_steady(20e6, 20, 86e3, 4), 24.0, 86e3, id="slowed-sharply-the-short-window"),
        pytest.param(_steady(1000, 20, 0, 4), 24.0, 0.0, id="stopped-nothing-lately"),
        # The tail began just after a look: the 3 s window still holds 200 kB of the fast part (152 kB/s),
        # the 1.5 s window only the tail. The slowest is the pace (it read 152 kB/s, an ETA half the truth).
        pytest.param(
            [
                *_steady(20e6, 7)[:-1],
                S(7.0, 140_000_000),
                S(8.0, 140_286_000),
                S(9.0, 140_372_000),
                S(10.0, 140_458_000),
            ],
            10.0,
            86e3,
            id="slowed-sharply-the-slowest-short-window",
        ),
        # Faster lately is shown by the long window (steady, not jumpy).
        pytest.param(_steady(1000, 20, 2000, 2), 22.0, 1200.0, id="faster-the-long-window"),
    ],
)
def test_current_rate(samples, now, expected):
    assert current_rate(samples, now) == pytest.approx(expected)


def test_pruned_keeps_the_window_and_its_left_edge():
    samples = [S(float(t), t) for t in range(0, 40, 5)]
    assert [s.at for s in pruned(samples, now=35.0, keep=12.0)] == [20.0, 25.0, 30.0, 35.0]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            dict(now=5, last_progress_at=None, done=0, recent_rate=None), DownloadState.STARTING, id="no-bytes-yet"
        ),
        pytest.param(
            dict(now=25, last_progress_at=None, done=0, recent_rate=None), DownloadState.STALLED, id="never-started"
        ),
        pytest.param(
            dict(now=10, last_progress_at=9, done=1000, recent_rate=100.0), DownloadState.DOWNLOADING, id="moving"
        ),
        pytest.param(
            dict(now=50, last_progress_at=29, done=9000, recent_rate=0.0),
            DownloadState.STALLED,
            id="quiet-past-threshold",
        ),
        pytest.param(
            dict(now=50, last_progress_at=31, done=9000, recent_rate=0.0),
            DownloadState.DOWNLOADING,
            id="a-pause-is-not-a-slow-tail",
        ),
        pytest.param(
            dict(now=40, last_progress_at=40, done=40_000, recent_rate=100.0),
            DownloadState.SLOW_TAIL,
            id="tail-under-quarter-of-average",
        ),
        pytest.param(
            dict(now=40, last_progress_at=40, done=40_000, recent_rate=400.0),
            DownloadState.DOWNLOADING,
            id="tail-at-average-fine",
        ),
        pytest.param(
            dict(now=10, last_progress_at=10, done=40_000, recent_rate=1.0),
            DownloadState.DOWNLOADING,
            id="too-young-to-judge",
        ),
        pytest.param(
            dict(now=40, last_progress_at=37, done=40_000, recent_rate=100.0),
            DownloadState.DOWNLOADING,
            id="slow-but-nothing-for-3s-is-no-tail-a-stall-may-come",
        ),
    ],
)
def test_running_state(kwargs, expected):
    assert running_state(started_at=0, stall_after=20, **kwargs) is expected


def _view(repo_id, paths, state):
    plan = DownloadPlan(DownloadRequest(repo_id), "c" * 40, tuple(PlannedFile(p, 1, p, False) for p in paths), None)
    return DownloadView(1, plan, state, 1, None, None, 0, 0, 1, 0, None, None, 0.0, 0.0, None, 0)


@pytest.mark.parametrize(
    ("running", "wanted", "overlaps"),
    [
        pytest.param(("org/a", ["x", "y"], DownloadState.DOWNLOADING), ("org/a", ["y"]), True, id="shared-file"),
        pytest.param(
            ("org/a", ["x"], DownloadState.STALLED), ("org/a", ["x"]), True, id="stalled-still-holds-the-lock"
        ),
        pytest.param(("org/a", ["x"], DownloadState.DOWNLOADING), ("org/a", ["y"]), False, id="other-files"),
        pytest.param(("org/a", ["x"], DownloadState.DOWNLOADING), ("org/b", ["x"]), False, id="other-repo"),
        pytest.param(("org/a", ["x"], DownloadState.FAILED), ("org/a", ["x"]), False, id="finished"),
    ],
)
def test_running_overlap(running, wanted, overlaps):
    view = _view(*running)
    plan = _view(wanted[0], wanted[1], DownloadState.STARTING).plan
    assert (running_overlap(plan, [view]) is view) is overlaps


def _track(readings_over_time, stall_after=60.0):
    """Feed (now, real_bytes, expected, alive) readings of one file; return the last progress."""
    tracker = PartialProgressTracker()
    progress = None
    for now, real, expected, alive in readings_over_time:
        progress = tracker.observe(now, {"f": PartialReading(real, expected, alive)}, stall_after)["f"]
    return progress


@pytest.mark.parametrize(
    ("readings", "state"),
    [
        pytest.param([(0, 10, 100, True)], DownloadState.DOWNLOADING, id="just-seen-is-downloading"),
        pytest.param([(0, 10, 100, False)], DownloadState.ORPHANED, id="no-process-is-orphaned"),
        pytest.param(
            [(0, 10, 100, True), (30, 10, 100, True), (61, 10, 100, True)],
            DownloadState.STALLED,
            id="quiet-past-threshold",
        ),
        pytest.param(
            [(0, 10, 100, True), (50, 20, 100, True), (100, 20, 100, True)],
            DownloadState.DOWNLOADING,
            id="growth-resets-quiet",
        ),
        pytest.param(
            [(0, 0, 1000, True), (10, 500, 1000, True), (70, 510, 1000, True)], DownloadState.SLOW_TAIL, id="slow-tail"
        ),
        pytest.param([(0, 10, 100, True), (5, 100, 100, True)], DownloadState.FINISHING, id="full-size-is-finishing"),
        pytest.param([(0, 10, None, True), (5, 50, None, True)], DownloadState.DOWNLOADING, id="unknown-size"),
    ],
)
def test_partial_progress_states(readings, state):
    assert _track(readings).state is state


def test_partial_progress_speed_eta_and_forgetting():
    tracker = PartialProgressTracker()
    tracker.observe(0.0, {"f": PartialReading(0, 1000, True)}, 60.0)
    p = tracker.observe(10.0, {"f": PartialReading(100, 1000, True)}, 60.0)["f"]
    assert (p.rate, p.eta, p.quiet_for) == (10.0, 90.0, 0.0)
    assert tracker.observe(11.0, {}, 60.0) == {}
    again = tracker.observe(12.0, {"f": PartialReading(100, 1000, True)}, 60.0)["f"]
    assert again.first_seen == 12.0, "a file that vanished and came back is watched afresh"


def test_a_file_last_written_long_ago_is_stalled_at_first_sight():
    seen = PartialProgressTracker().observe(1000.0, {"f": PartialReading(10, 100, True, modified=600.0)}, 300.0)["f"]
    assert seen.state is DownloadState.STALLED and seen.quiet_for == 400.0
    fresh = PartialProgressTracker().observe(1000.0, {"f": PartialReading(10, 100, True, modified=990.0)}, 300.0)["f"]
    assert fresh.state is DownloadState.DOWNLOADING and fresh.quiet_for == 10.0


def _track_readings(readings, stall_after=60.0):
    """Feed (now, PartialReading) pairs of one file; return the last progress."""
    tracker = PartialProgressTracker()
    progress = None
    for now, reading in readings:
        progress = tracker.observe(now, {"f": reading}, stall_after)["f"]
    return progress


MB = 1_000_000
MiB = 1 << 20


@pytest.mark.parametrize(
    ("readings", "state", "evidence"),
    [
        pytest.param(
            [(0, PartialReading(10 * MB, 100 * MB, True, free_bytes=50 * MB))],
            DownloadState.NO_SPACE,
            "90.0 MB left to fetch, 50.0 MB free",
            id="remaining-does-not-fit",
        ),
        pytest.param(
            [(0, PartialReading(10 * MB, None, True, free_bytes=4096))],
            DownloadState.NO_SPACE,
            "4.1 kB free",
            id="disk-full-size-unknown",
        ),
        pytest.param(
            [(0, PartialReading(10 * MB, 100 * MB, True, free_bytes=95 * MB))],
            DownloadState.DOWNLOADING,
            "",
            id="fits",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, False)), (5, PartialReading(20, 100, False))],
            DownloadState.OWNER_UNKNOWN,
            "grew while no local process",
            id="grows-with-no-local-writer",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, True)), (5, PartialReading(20, 100, False))],
            DownloadState.ORPHANED,
            "lock is free",
            id="last-bytes-of-a-writer-that-died",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, False, hidden_owner=True))],
            DownloadState.OWNER_UNKNOWN,
            "cannot see",
            id="lock-held-out-of-sight",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, False)), (5, PartialReading(10, 100, False))],
            DownloadState.ORPHANED,
            "lock is free",
            id="still-and-ownerless",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, True)), (65, PartialReading(10, 100, False, kept=KeptMark("cancelled", 5)))],
            DownloadState.CANCELLED,
            "cancelled in hftop 1m00s ago, its bytes kept",
            id="kept-by-a-cancel-in-hftop",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, False, kept=KeptMark("failed", 0, "The connection was lost.")))],
            DownloadState.FAILED,
            "hftop's download of it failed just now: The connection was lost.",
            id="kept-by-a-failure-in-hftop",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, False, taken_over_by=7, kept=KeptMark("cancelled", 0)))],
            DownloadState.ORPHANED,
            "pid 7 took its lock over",
            id="kept-then-another-process-fetches-the-blob",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, True, kept=KeptMark("cancelled", 0)))],
            DownloadState.DOWNLOADING,
            "",
            id="kept-and-resumed-is-a-live-download",
        ),
        pytest.param(
            [
                (0, PartialReading(10, 100, True, net_bytes=0, net_idle=0, connections=1)),
                (40, PartialReading(10, 100, True, net_bytes=5 * MB, net_idle=0, connections=1)),
                (80, PartialReading(10, 100, True, net_bytes=9 * MB, net_idle=0, connections=1)),
            ],
            DownloadState.DOWNLOADING,
            "arriving on its 1 connection",
            id="bytes-on-the-socket-are-progress",
        ),
        pytest.param(
            [
                (0, PartialReading(10, 100, True, net_bytes=5, net_idle=0, connections=1)),
                (30, PartialReading(10, 100, True, net_bytes=5, net_idle=30, connections=1)),
                (61, PartialReading(10, 100, True, net_bytes=5, net_idle=61, connections=1)),
            ],
            DownloadState.STALLED,
            "network idle: 1 connection open, nothing received for 1m01s",
            id="network-idle",
        ),
        pytest.param(
            [(0, PartialReading(10, 100, True, connections=0)), (61, PartialReading(10, 100, True, connections=0))],
            DownloadState.STALLED,
            "no open connection",
            id="stalled-without-connection",
        ),
        pytest.param(
            [(1000, PartialReading(10, 100, True, modified=600.0, net_bytes=5, net_idle=2, connections=1))],
            DownloadState.DOWNLOADING,
            "last data arrived 2s ago",
            id="old-file-but-data-just-arrived",
        ),
    ],
)
def test_partial_verdicts_and_evidence(readings, state, evidence):
    progress = _track_readings(readings)
    assert progress.state is state
    assert evidence in " · ".join(progress.evidence)


def test_socket_counters_give_the_speed():
    readings = [
        (t, PartialReading(0, 100 * MB, True, net_bytes=t * 2 * MB, net_idle=0, connections=1)) for t in range(21)
    ]
    progress = _track_readings(readings)
    assert progress.rate == pytest.approx(2 * MB)
    # 40 MB arrived while the file stayed empty (plain HTTP writes 10 MiB steps): 60 MB left, not 100.
    assert progress.done == 40 * MB and progress.real_bytes == 0
    assert progress.eta == pytest.approx(30)


def test_the_seeds_slow_tail_eta_rests_on_bytes_received_not_on_disk():
    """99 % at 20 MB/s, then the last 3 MiB at 86 kB/s while the file sits at its last 10 MiB step."""
    MiB = 1 << 20
    size, step = 346 * MiB, 340 * MiB  # the file on disk stays at the step until the end
    # hftop watches from the last step on, as the dashboard does: 2 MiB arrive fast, then the crawl.
    received = [step, step + 2 * MiB, *(step + 2 * MiB + t * 86_000 for t in range(1, 12))]
    readings = [
        (1000.0 + t, PartialReading(step, size, True, net_bytes=n, net_idle=0.0, connections=1))
        for t, n in enumerate(received)
    ]
    progress = _track_readings(readings)
    truth = (size - received[-1]) / 86_000
    assert progress.done == received[-1]
    assert progress.eta == pytest.approx(truth, rel=0.25)
    # A connection that closes (huggingface_hub retries from the last step) starts the count again.
    retry = (1013.0, PartialReading(step, size, True, net_bytes=1000, net_idle=0.0, connections=1))
    tracker = PartialProgressTracker()
    for now, reading in [*readings, retry]:
        last = tracker.observe(now, {"f": reading}, 60.0)["f"]
    assert last.done == step


@pytest.mark.parametrize(
    ("net_bytes", "state"),
    [
        # 40 MB in the 60 s before hftop looked, then 30 kB/s: a slow tail within one 3 s look.
        pytest.param(
            (40 * MB, 40 * MB + 30_000, 40 * MB + 60_000, 40 * MB + 90_000), DownloadState.SLOW_TAIL, id="tail"
        ),
        # The same pace all along is no tail.
        pytest.param(
            (40 * MB, 40 * MB + 2 * MB, 40 * MB + 4 * MB, 40 * MB + 6 * MB), DownloadState.DOWNLOADING, id="even"
        ),
    ],
)
def test_a_slow_tail_is_judged_against_the_writers_average_since_it_started(net_bytes, state):
    """`hftop doctor` looks for seconds; the writer's start (its process) gives the average at once."""
    readings = [
        (1000.0 + i, PartialReading(40 * MB, 50 * MB, True, net_bytes=n, net_idle=0.0, connections=1, started=940.0))
        for i, n in enumerate(net_bytes)
    ]
    progress = _track_readings(readings)
    assert progress.state is state
    assert progress.quiet_for == 0.0


@pytest.mark.parametrize(
    ("reading", "state", "evidence"),
    [
        pytest.param(
            PartialReading(100, 100, True, modified=1000.0),
            DownloadState.FINISHING,
            "full size on disk;",
            id="finishing",
        ),
        pytest.param(
            PartialReading(100, 100, True, modified=600.0),
            DownloadState.STALLED,
            "full size on disk for 6m40s, yet huggingface_hub has not moved it into place",
            id="no-rename-within-the-threshold",
        ),
        pytest.param(
            PartialReading(50, 100, True, modified=999.0, stopped=True, writer=42),
            DownloadState.STALLED,
            "its process 42 is stopped (state T",
            id="stopped-process",
        ),
    ],
)
def test_finishing_and_stopped_writers(reading, state, evidence):
    progress = PartialProgressTracker().observe(1000.0, {"f": reading}, 300.0)["f"]
    assert progress.state is state
    assert progress.evidence[0].startswith(evidence)


@pytest.mark.parametrize(
    ("net_bytes", "done"),
    [
        pytest.param(23 * (1 << 20), 23 * (1 << 20), id="sockets-carried-this-file-alone"),
        pytest.param(80 * (1 << 20), 20 * (1 << 20), id="sockets-carried-other-files-before"),
        pytest.param(5 * (1 << 20), 20 * (1 << 20), id="a-retry-from-an-earlier-step"),
    ],
)
def test_at_first_sight_the_unwritten_step_counts_when_the_sockets_can_only_be_this_files(net_bytes, done):
    reading = PartialReading(20 * (1 << 20), 90 * (1 << 20), True, net_bytes=net_bytes, net_idle=0.0, connections=1)
    assert PartialProgressTracker().observe(1000.0, {"f": reading}, 300.0)["f"].done == done


MIB = 1 << 20


def _socks(*counts, idle=0.0):
    return [SocketSample(inode=i + 1, bytes_received=n, idle=idle) for i, n in enumerate(counts)]


@pytest.mark.parametrize(
    ("files", "before", "now", "ties_before", "received", "tied"),
    [
        pytest.param(
            {"a": 0, "b": 0}, {1: 0, 2: 0}, (100_000, 300_000), {}, {"a": 200_000, "b": 200_000}, {},
            id="all-at-zero-share-evenly",
        ),
        pytest.param(
            {"a": 10 * MIB, "b": 0}, {1: 10 * MIB, 2: 1 * MIB}, (10 * MIB + 500_000, 1 * MIB + 100_000), {},
            {"a": 500_000, "b": 100_000}, {"a": 1, "b": 2},
            id="a-stepped-file-fits-one-socket",
        ),
        pytest.param(
            {"a": 20 * MIB, "b": 20 * MIB}, {1: 20 * MIB, 2: 21 * MIB}, (20 * MIB + 10, 21 * MIB + 90), {"b": 2},
            {"a": 10, "b": 90}, {"a": 1, "b": 2},
            id="a-tie-is-kept-and-the-other-follows",
        ),
        pytest.param(
            {"a": 0, "b": 0}, None, (5 * MIB, 3 * MIB), {}, {"a": 0, "b": 0}, {},
            id="nothing-shared-is-new-at-the-first-look",
        ),
        pytest.param(
            {"a": 0}, None, (5 * MIB,), {}, {"a": 5 * MIB}, {"a": 1},
            id="a-tied-sockets-bytes-are-its-files-from-the-first-look",
        ),
        pytest.param(
            {"a": 0, "b": 0}, {1: 2_000, 2: 12 * MIB}, (2_000, 13 * MIB), {}, {"a": MIB // 2, "b": MIB // 2}, {},
            id="a-socket-that-fits-no-file-is-shared-by-all-that-have-no-socket-of-their-own",
        ),
    ],
)  # fmt: skip
def test_a_processs_socket_bytes_are_shared_out_among_its_files(files, before, now, ties_before, received, tied):
    shares = share_out(files, _socks(*now), ties_before, before)
    assert {k: s.received for k, s in shares.items()} == received
    assert {k: s.tied_to for k, s in shares.items() if s.tied_to is not None} == tied


def test_hf_xets_pooled_sockets_are_never_tied_to_one_file():
    """hf_xet fetches any file's terms on any of its connections and buffers far ahead of the files: a
    socket that would fit one file's bytes on disk says nothing, and its bytes go to all of them."""
    before = {1: 5 * MIB, 2: 6 * MIB}
    shares = share_out(
        {"a": 4 * MIB, "b": 0}, _socks(5 * MIB + 300_000, 6 * MIB + 100_000), {"a": 1}, before, pooled=True
    )
    assert {k: (s.received, s.tied_to, s.sharing) for k, s in shares.items()} == {
        "a": (200_000, None, 2),
        "b": (200_000, None, 2),
    }


def test_hf_xets_bytes_follow_its_terms_under_way_when_its_log_tells_them():
    """3 of its 4 term fetches are a's, 1 is b's: a gets 3/4 of what arrived, b 1/4, c (queued) nothing."""
    before = {1: 5 * MIB, 2: 6 * MIB}
    turns = {"a": XetTurn(3, 4, 0), "b": XetTurn(1, 4, 0), "c": XetTurn(0, 4, 2)}
    shares = share_out(
        {"a": 0, "b": 0, "c": 0}, _socks(5 * MIB + 300_000, 6 * MIB + 100_000), {}, before, pooled=True, turns=turns
    )
    assert {k: (s.received, s.turn) for k, s in shares.items()} == {
        "a": (300_000, turns["a"]),
        "b": (100_000, turns["b"]),
        "c": (0, turns["c"]),
    }


@pytest.mark.parametrize(
    ("turn", "state", "evidence"),
    [
        pytest.param(XetTurn(0, 4, 2), DownloadState.QUEUED, "its turn has not come: hf_xet fetches 4 terms at a "
                     "time, first queued first (its log), and all go to 2 other files of its process now",
                     id="none-of-its-fetches"),
        pytest.param(XetTurn(3, 4, 0), DownloadState.DOWNLOADING, "1.0 MB/s: its part of what its process receives, "
                     "3 of the 4 terms hf_xet fetches at once being its own", id="three-of-four"),
    ],
)  # fmt: skip
def test_a_xet_file_among_several_is_queued_or_downloading_by_its_terms_under_way(turn, state, evidence):
    """Its first look already tells: no threshold to wait for."""
    received = 1 * MB if turn.slots else 0
    readings = [
        (1000.0 + t, PartialReading(0, 50 * MB, True, net_bytes=received * t, net_idle=0.0, sharing=8, xet=True,
                                    turn=turn, process_receiving=True))
        for t in range(0, 6)
    ]  # fmt: skip
    progress = _track_readings(readings, stall_after=60.0)
    assert progress.state is state
    assert progress.evidence[0].startswith(evidence), progress.evidence


@pytest.mark.parametrize(
    ("process_receiving", "state"),
    [
        pytest.param(True, DownloadState.QUEUED, id="its-process-receives-for-its-other-files"),
        pytest.param(False, DownloadState.STALLED, id="its-process-receives-nothing"),
    ],
)
def test_a_file_with_nothing_of_its_own_while_its_process_receives_is_queued(process_receiving, state):
    """One of several files in one process, no socket of its own, nothing for past the threshold."""
    readings = [
        (1000.0 + t, PartialReading(0, 50 * MB, True, net_bytes=0, net_idle=0.0, sharing=1,
                                    process_receiving=process_receiving))
        for t in range(0, 70, 5)
    ]  # fmt: skip
    progress = _track_readings(readings, stall_after=60.0)
    assert progress.state is state
    assert (state is DownloadState.QUEUED) == ("it waits its turn" in progress.evidence[0])


@pytest.mark.parametrize(
    ("samples", "now", "expected"),
    [
        pytest.param([S(0.0, 0), S(9.0, 0), S(10.0, 6 * MB), S(12.0, 18 * MB)], 12.0, 6 * MB, id="after-a-quiet-start"),
        pytest.param([S(0.0, 0), S(10.0, 10 * MB), S(20.0, 20 * MB), S(30.0, 30 * MB)], 30.0, MB, id="10-MiB-steps"),
        pytest.param([S(0.0, 0), S(10.0, 10 * MB)], 20.0, 0.5 * MB, id="one-growth-is-the-windows-rate"),
        pytest.param([S(0.0, 0), S(1.0, MB), S(2.0, 2 * MB)], 100.0, 0.0, id="none-in-the-window"),
    ],
)  # fmt: skip
def test_growth_rate(samples, now, expected):
    assert growth_rate(samples, now, window=60.0) == pytest.approx(expected)


def _local_cas(t: int, real: int, cpu: CpuUse | None, net_bytes: int = 4_000) -> tuple[float, PartialReading]:
    """hf_xet reading a local:// CAS: only its idle connection to the Hub's API shows."""
    return 1000.0 + t, PartialReading(
        real, 90 * MB, True, net_bytes=net_bytes, net_idle=float(t), connections=1, xet=True, cpu=cpu
    )


STARVED = CpuUse(ran=0.02, waited=1.1)
IDLE = CpuUse(ran=0.002, waited=0.007)


@pytest.mark.parametrize(
    ("readings", "state", "evidence"),
    [
        pytest.param(
            [_local_cas(t, 0, STARVED) for t in range(12)],
            DownloadState.DOWNLOADING,
            "no new bytes for 11s, but its process works, starved of CPU: each second its threads ran 0.02 s",
            id="decoding-on-a-starved-cpu",
        ),
        pytest.param(
            [_local_cas(t, 0, IDLE) for t in range(12)],
            DownloadState.STALLED,
            "network idle: 1 connection open, nothing received for 11s",
            id="idle-process-idle-sockets",
        ),
        pytest.param(
            [*(_local_cas(t, 0, STARVED) for t in range(3)), *(_local_cas(t, 0, IDLE) for t in range(3, 12))],
            DownloadState.STALLED,
            "network idle",
            id="it-worked-then-went-idle",
        ),
        pytest.param(
            [_local_cas(t, t * 6 * MB, STARVED) for t in range(8)],
            DownloadState.DOWNLOADING,
            "the file grows at 6.0 MB/s; its process's sockets brought 0 B of it (its bytes come some other way",
            id="grows-with-no-socket-bringing-it",
        ),
    ],
)
def test_a_writer_whose_sockets_do_not_carry_its_file(readings, state, evidence):
    """A 5 s threshold: a working process is not stalled, and a file that grows with nothing on its sockets
    is judged by its growth (the idle API connection read 0 B/s)."""
    progress = _track_readings(readings, stall_after=5.0)
    assert progress.state is state
    assert progress.evidence[0].startswith(evidence), progress.evidence


def test_plain_http_sockets_that_carry_the_file_stay_its_evidence():
    """10 MiB steps land on a socket that brought them: the socket's speed, not the steps'."""
    step = 10 * MIB
    readings = [
        (1000.0 + t, PartialReading((t // 10) * step, 100 * MB, True, net_bytes=t * step // 10, net_idle=0.0,
                                    connections=1, cpu=STARVED))
        for t in range(31)
    ]  # fmt: skip
    progress = _track_readings(readings, stall_after=5.0)
    assert progress.rate == pytest.approx(step / 10)
    assert progress.evidence[0].endswith("arriving on its 1 connection")


def _retrying(t: int) -> tuple[float, PartialReading]:
    """A plain-HTTP download at 1 MB/s whose connection stops at 15 MB: every 8 s huggingface_hub times out and
    asks again from its 10 MiB on disk, and the new connection brings the same 5 MB again."""
    step = 10 * MIB
    if t <= 15:
        position = t * MB
    else:
        position = min(step + ((t - 16) % 8) * MB, 15 * MB)
    received = t * MB  # across connections: every retry's bytes too
    return 1000.0 + t, PartialReading(
        step if position >= step or t > 15 else 0, 100 * MB, True, net_bytes=received, net_idle=0.0,
        connections=1, position=position,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "state", "evidence"),
    [
        (15, DownloadState.DOWNLOADING, "1.0 MB/s arriving on its 1 connection"),
        (22, DownloadState.DOWNLOADING, "1.0 MB/s arriving"),
        (
            26,
            DownloadState.STALLED,
            "no byte past 15.0 MB for 11s: bytes arrive, but each retry fetches again from 10.5 MB",
        ),
    ],
)
def test_bytes_that_a_retry_brings_again_are_no_progress(seconds, state, evidence):
    """A 10 s threshold: what a retry brings short of where the last connection got is not progress, nor
    counted as done, however fast it comes."""
    progress = _track_readings([_retrying(t) for t in range(seconds + 1)], stall_after=10.0)
    assert progress.state is state, progress.evidence
    assert progress.evidence[0].startswith(evidence), progress.evidence
    assert progress.done <= 15 * MB


@pytest.mark.parametrize("tick", [1.0, 0.5])
def test_a_flow_dying_out_before_a_stall_is_never_a_slow_tail(tick):
    """8 MB/s, then the last bytes of the connections still open trickle in over a second and nothing more
    comes (hf_xet's last ranges before a stall): a slow tail is a steady slow pace, not that moment."""
    tracker = PartialProgressTracker()
    received = [int(t * tick * 8 * MB) for t in range(int(30 / tick))]
    received += [received[-1] + 1 * MB, received[-1] + 1 * MB + 100_000, received[-1] + 1 * MB + 120_000]
    received += [received[-1]] * int(20 / tick)
    states = []
    for i, n in enumerate(received):
        reading = PartialReading(0, 10_000 * MB, True, net_bytes=n, net_idle=0.0, connections=2, started=999.0)
        states.append(tracker.observe(1000.0 + i * tick, {"f": reading}, 10.0)["f"].state)
    assert DownloadState.SLOW_TAIL not in states, states
    assert states[-1] is DownloadState.STALLED


def test_a_xet_file_growing_with_no_bytes_on_its_sockets_is_told_at_its_first_growths():
    """hf_xet reading a local CAS: its only socket (an idle API connection) brought 410 B; the file grows
    2 MiB each half second. Its speed is the growth from the first steps on, not 0 until 10 MiB are written."""
    tracker = PartialProgressTracker()
    for i in range(6):
        reading = PartialReading(i * 2 * MiB, 90 * MB, True, net_bytes=410, net_idle=20.0, connections=1, xet=True)
        progress = tracker.observe(1000.0 + i * 0.5, {"f": reading}, 60.0)["f"]
    assert progress.rate == pytest.approx(4 * MiB, rel=0.3), progress
    assert "its bytes come some other way" in progress.evidence[0]


def test_a_xet_term_landing_from_bytes_received_before_hftop_looked_is_not_off_socket():
    """Watched mid-way: its sockets had brought 100 MB more than the file held (hf_xet holds them until whole
    terms can be written). A 16 MiB term landing while little new arrives is those bytes, not another way."""
    tracker = PartialProgressTracker()
    readings = [
        (1000.0, PartialReading(50 * MB, 300 * MB, True, net_bytes=150 * MB, net_idle=0.0, connections=4, xet=True)),
        (1001.0, PartialReading(50 * MB, 300 * MB, True, net_bytes=151 * MB, net_idle=0.0, connections=4, xet=True)),
        (
            1002.0,
            PartialReading(
                50 * MB + 16 * MiB, 300 * MB, True, net_bytes=152 * MB, net_idle=0.0, connections=4, xet=True
            ),
        ),
    ]
    for now, reading in readings:
        progress = tracker.observe(now, {"f": reading}, 60.0)["f"]
    assert progress.rate == pytest.approx(1 * MB, rel=0.1), progress
    assert "some other way" not in " ".join(progress.evidence)


@pytest.mark.parametrize(
    ("real", "said"),
    [
        pytest.param(21 * MB, "last written 1m00s ago", id="bytes-to-resume"),
        pytest.param(0, "created 1m00s ago, never written", id="nothing-written"),
    ],
)  # fmt: skip
def test_a_dead_writers_file_says_whether_anything_of_it_was_written(real, said):
    progress = _track_readings([(1060.0, PartialReading(real, 50 * MB, False, modified=1000.0))])
    assert progress.state is DownloadState.ORPHANED
    assert progress.evidence[-1] == said
