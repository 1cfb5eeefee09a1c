"""`hftop exporter`: the monitor's view of the machine's Hugging Face downloads and cache, for Prometheus.

A thread ticks the same monitor the dashboard and doctor use, once every `refresh` seconds, and rescans the
cache only when its fingerprint changed; a scrape reads the latest of those looks and never scans. Per
download: its verdict (a state set: one series per state, 1 for the current one), bytes done and expected,
speed, seconds since progress. Per cache: size on disk, repos, partial bytes, what prune would free, and the
free space of its filesystem.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tui.core.downloads import DownloadState, ExternalDownload
from tui.monitor.monitor import Monitor, Snapshot
from tui.probes.cache_scan import CacheScan
from tui.probes.prune import plan_prune

DEFAULT_LISTEN = "127.0.0.1:9877"
PRUNE_EVERY = 60.0
"""Seconds between two looks at what prune would free when the cache itself did not change (partial files
become orphans as they age)."""

_LABELS = ("repo_type", "repo", "file", "pid", "transport")
_STATES: tuple[DownloadState, ...] = tuple(
    s for s in DownloadState if s not in (DownloadState.STARTING, DownloadState.CANCELLING, DownloadState.DONE)
)
"""The verdicts of downloads hftop watches (those of the downloads it starts itself are not exported): `failed`
for a file that went while its process lived, or bytes a failed download of hftop's kept; `cancelled` for bytes
kept by a cancel in hftop."""


@dataclass(frozen=True)
class CacheFigures:
    size_on_disk: int
    repos: int
    prunable: int
    scanned_at: float


class Looks:
    """The latest snapshot and cache figures, shared between the watching thread and the scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.cache: CacheFigures | None = None
        self.cache_error: str | None = None

    def put(self, snapshot: Snapshot, cache: CacheFigures | None, cache_error: str | None) -> None:
        with self._lock:
            self.snapshot = snapshot
            if cache is not None or cache_error is not None:
                self.cache, self.cache_error = cache, cache_error

    def get(self) -> tuple[Snapshot | None, CacheFigures | None]:
        with self._lock:
            return self.snapshot, self.cache


class Watcher:
    """Ticks the monitor and keeps `Looks` fresh; `stop()` ends `run()`."""

    def __init__(self, cache_dir: Path, stall_after: float, refresh: float, looks: Looks) -> None:
        self.cache_dir = cache_dir
        self.refresh = refresh
        self.looks = looks
        self.monitor = Monitor(cache_dir, stall_after, local_dirs=False)
        self._stop = threading.Event()
        self._scan: CacheScan | None = None
        self._pruned_at = float("-inf")

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                self.look_once()
                self._stop.wait(self.refresh)
        finally:
            self.monitor.close()

    def look_once(self) -> None:
        now = time.time()
        snapshot = self.monitor.tick(now)
        scan = (
            self.monitor.look_at_cache(force=self._scan is None) if snapshot.look_at_cache or not self._scan else None
        )
        if scan is not None:
            self._scan = scan
        figures, error = None, None
        if self._scan is not None and (scan is not None or now - self._pruned_at >= PRUNE_EVERY):
            if self._scan.missing:  # no cache yet: nothing in it, and the figures say so
                self._pruned_at = now
                figures = CacheFigures(0, 0, 0, now)
            elif self._scan.info is None:
                error = self._scan.error or "no cache"
            else:
                self._pruned_at = now
                prunable = plan_prune(self._scan.info, self.cache_dir, now).frees
                figures = CacheFigures(self._scan.info.size_on_disk, len(self._scan.info.repos), prunable, now)
        self.looks.put(snapshot, figures, error)


class HftopCollector(Collector):
    """Metric families from the latest look, built at each scrape (cheap: no probe runs here)."""

    def __init__(self, looks: Looks, cache_dir: Path) -> None:
        self.looks = looks
        self.cache_dir = str(cache_dir)
        self.last_duration = 0.0

    def collect(self) -> Iterator[Metric]:
        start = time.perf_counter()
        snapshot, cache = self.looks.get()
        yield from self._downloads(snapshot.others if snapshot else ())
        yield from self._cache(snapshot, cache)
        duration = GaugeMetricFamily(
            "hftop_scrape_duration_seconds", "Seconds the previous scrape of this exporter took to build its metrics."
        )
        duration.add_metric([], self.last_duration)
        yield duration
        self.last_duration = time.perf_counter() - start

    def _downloads(self, rows: tuple[ExternalDownload, ...]) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "hftop_download_state",
            "A download's verdict, as hftop's dashboard and doctor give it: 1 for its state, 0 for the others.",
            labels=[*_LABELS, "state"],
        )
        done = GaugeMetricFamily("hftop_download_done_bytes", "Bytes of the file fetched so far.", labels=_LABELS)
        expected = GaugeMetricFamily("hftop_download_expected_bytes", "The file's whole size.", labels=_LABELS)
        speed = GaugeMetricFamily(
            "hftop_download_speed_bytes_per_second", "Bytes per second over the last seconds.", labels=_LABELS
        )
        quiet = GaugeMetricFamily(
            "hftop_download_seconds_since_progress",
            "Seconds since the file grew or bytes arrived for it.",
            labels=_LABELS,
        )
        counts = GaugeMetricFamily("hftop_downloads", "Downloads by verdict.", labels=["state"])
        per_state: dict[DownloadState, int] = dict.fromkeys(_STATES, 0)
        for row in rows:
            labels = [
                row.repo_type,
                row.repo_id,
                row.file_name or f"blob {row.etag[:12]}",
                "" if row.owner_pid is None else str(row.owner_pid),
                "" if row.transport is None else row.transport[0],
            ]
            per_state[row.state] = per_state.get(row.state, 0) + 1
            for each in _STATES:
                state.add_metric([*labels, each.value], 1.0 if each is row.state else 0.0)
            progress = row.progress
            done.add_metric(labels, float(progress.done))
            if progress.expected_size is not None:
                expected.add_metric(labels, float(progress.expected_size))
            if progress.rate is not None:
                speed.add_metric(labels, progress.rate)
            quiet.add_metric(labels, progress.quiet_for)
        for each, n in per_state.items():
            counts.add_metric([each.value], float(n))
        yield from (state, done, expected, speed, quiet, counts)

    def _cache(self, snapshot: Snapshot | None, cache: CacheFigures | None) -> Iterator[Metric]:
        labels = ["cache_dir"]
        values: list[tuple[str, str, float | None]] = [
            ("hftop_cache_size_bytes", "Bytes of the Hub cache's repos on disk, as hf cache ls counts them (a shared "
             "blob counts once); partial downloads are in hftop_cache_partial_bytes.",
             None if cache is None else cache.size_on_disk),
            ("hftop_cache_repos", "Repos in the Hub cache.", None if cache is None else cache.repos),
            ("hftop_cache_prunable_bytes", "Bytes hftop's prune would free now (detached revisions, orphaned "
             "partial files).", None if cache is None else cache.prunable),
            ("hftop_cache_scan_timestamp_seconds", "When the cache figures were last worked out.",
             None if cache is None else cache.scanned_at),
            ("hftop_cache_partial_bytes", "Bytes on disk in partial downloads in the cache.",
             None if snapshot is None or snapshot.partials_in_cache is None else snapshot.partials_in_cache[1]),
            ("hftop_cache_filesystem_free_bytes", "Free space on the cache's filesystem for an unprivileged writer.",
             None if snapshot is None or snapshot.disk is None else snapshot.disk.free),
            ("hftop_cache_filesystem_size_bytes", "Size of the cache's filesystem.",
             None if snapshot is None or snapshot.disk is None else snapshot.disk.total),
        ]  # fmt: skip
        for name, doc, value in values:
            family = GaugeMetricFamily(name, doc, labels=labels)
            if value is not None:
                family.add_metric([self.cache_dir], float(value))
            yield family


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9877` for IPv6) → (host, port); ValueError with a sentence otherwise."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen takes HOST:PORT, e.g. {DEFAULT_LISTEN}, got {text!r}")
    return host, int(port)


def is_loopback_host(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def serve(cache_dir: Path, host: str, port: int, stall_after: float, refresh: float, out: object = None) -> int:
    """Serve the metrics until SIGINT or SIGTERM (a KeyboardInterrupt here)."""
    import sys

    looks = Looks()
    watcher = Watcher(cache_dir, stall_after, refresh, looks)
    registry = CollectorRegistry()
    registry.register(HftopCollector(looks, cache_dir))
    watcher.look_once()  # the first scrape already has figures
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        print(f"hftop: cannot listen on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        watcher.monitor.close()
        return 1
    where = f"[{host}]" if ":" in host else host
    print(f"hftop exporter: metrics of {cache_dir} on http://{where}:{port}/metrics", file=sys.stderr, flush=True)
    if not cache_dir.exists():
        print(
            f"hftop exporter: no Hub cache at {cache_dir} yet: its figures read 0 until one is there (check "
            "--cache-dir, HF_HUB_CACHE or HF_HOME if one should be)",
            file=sys.stderr,
            flush=True,
        )
    if not is_loopback_host(host):
        print(
            f"hftop exporter: listening on {host}, not loopback: anyone who reaches it sees the repos and files "
            "this machine downloads.",
            file=sys.stderr,
            flush=True,
        )
    try:
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        server.shutdown()
    return 0
