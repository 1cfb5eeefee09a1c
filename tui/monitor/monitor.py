"""The monitor: everything the refresh loop knows, and one frozen snapshot of it per tick.

The dashboard, `hftop doctor` and every headless command ask this one object, so a download has
one verdict, one speed and one history wherever it is shown. No Textual here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from tui.core.downloads import DownloadState, DownloadView, ExternalDownload, row_key
from tui.core.folders import HfFolders
from tui.core.throughput import ALL, CounterReading, ThroughputTracker, ThroughputView, next_interface
from tui.downloads.supervisor import DownloadSupervisor
from tui.monitor.others import OtherDownloads
from tui.probes.cache_scan import CacheChanges, CacheScan, CacheScanner
from tui.probes.disk import DiskSpace, disk_space
from tui.probes.hf_folders import default_folders, scan_hf_folders
from tui.probes.hub import LOOKUP_TIMEOUT, host_addresses
from tui.probes.network import read_counters
from tui.probes.partials import process_connections

CACHE_CHECK_INTERVAL = 5.0
"""Seconds between two looks for changes in the cache, unless a download started or ended."""

SPEED_HISTORY = 180
"""Speeds kept per download, one a tick, for the details' sparkline."""

VERDICT_HISTORY = 12
"""Verdict changes kept per download."""

FOLDERS_INTERVAL = 30.0
"""Seconds between two looks at the xet folder and the datasets cache, unless asked for one."""

ENDPOINT_ADDRESSES_TTL = 60.0
"""Seconds an endpoint's resolved addresses are reused (a name lookup can be slow)."""


@dataclass(frozen=True)
class Sources:
    """Where the dashboard reads network counters and free space, and the clock the cache's ages are
    shown against. Snapshot tests pass fixed ones; downloads always move on the real clock."""

    clock: Callable[[], float] = time.time
    counters: Callable[[], CounterReading] = read_counters
    disk: Callable[[Path], DiskSpace | None] = disk_space


@dataclass(frozen=True)
class VerdictChange:
    """A download's verdict as it changed: when (wall clock), to what, and its first piece of evidence."""

    at: float
    state: DownloadState
    why: str


@dataclass(frozen=True)
class DownloadHistory:
    speeds: tuple[float, ...] = ()
    """Bytes per second at each tick, oldest first."""
    verdicts: tuple[VerdictChange, ...] = ()
    """Oldest first."""


Row = DownloadView | ExternalDownload


@dataclass(frozen=True)
class Snapshot:
    """What the monitor knew at `at`: every download, the network, the disk."""

    at: float
    stall_after: float
    own: tuple[DownloadView, ...] = ()
    """The downloads hftop started."""
    others: tuple[ExternalDownload, ...] = ()
    """Every other Hugging Face download on the machine, and what dead ones left."""
    network: ThroughputView | None = None
    disk: DiskSpace | None = None
    histories: Mapping[str, DownloadHistory] = field(default_factory=lambda: MappingProxyType({}))
    """By row key (`row_key`)."""
    look_at_cache: bool = False
    """A download started, ended or finished a file, or a while passed: the cache may have changed."""
    partials_in_cache: tuple[int, int] | None = None
    """(partial files, their bytes on disk) in the cache now, hftop's own downloads' included."""

    @property
    def rows(self) -> tuple[Row, ...]:
        return (*self.own, *self.others)

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if row_key(r) == key), None)

    def history(self, key: str) -> DownloadHistory:
        return self.histories.get(key, DownloadHistory())


@dataclass
class _Record:
    speeds: deque[float] = field(default_factory=lambda: deque(maxlen=SPEED_HISTORY))
    verdicts: deque[VerdictChange] = field(default_factory=lambda: deque(maxlen=VERDICT_HISTORY))


class Monitor:
    """Owns the network tracker, the cache watch, other programs' downloads and every download's history.

    `tick(now)` is called by one thread at a time (the dashboard's snapshot worker, or doctor's loop),
    `look_at_cache()` by one thread at a time (the cache worker); `next_interface()` may come from any
    thread. Each returns frozen values.
    """

    def __init__(
        self,
        cache_dir: Path,
        stall_after: float,
        *,
        supervisor: DownloadSupervisor | None = None,
        sources: Sources | None = None,
        history_seconds: float = 300.0,
        local_dirs: bool = True,
        home_endpoint: str | None = None,
        endpoint: str | None = None,
        folders: tuple[Path, Path] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.xet_dir, self.datasets_dir = folders or default_folders()
        """The xet folder and the datasets cache (`HF_XET_CACHE`, `HF_DATASETS_CACHE`)."""
        self._folders_looked_at = float("-inf")
        self.home_endpoint = home_endpoint
        """An endpoint that is a hub, not a mirror (the demo's): where it sends the bytes is its own affair."""
        self.stall_after = stall_after
        self.supervisor = supervisor
        self.sources = sources or Sources()
        self._net = ThroughputTracker(history_seconds=history_seconds)
        self._interface = ALL
        self._net_lock = threading.Lock()
        self._others = OtherDownloads(self.cache_dir, stall_after, local_dirs=local_dirs, endpoint=endpoint)
        self._records: dict[str, _Record] = {}
        self._downloads_seen: frozenset[tuple[object, ...]] | None = None
        self._cache_looked_at = float("-inf")
        self._addresses: dict[str, tuple[float, frozenset[str]]] = {}
        self._fingerprint: tuple[object, ...] | None = None
        self._scanner = CacheScanner(self.cache_dir)
        self._changes = CacheChanges(self.cache_dir)
        self.scans = 0
        """Scans of the cache so far (each reads only the repos that changed)."""

    def close(self) -> None:
        self._others.close()
        self._changes.close()

    # --- the refresh ------------------------------------------------------------------------
    def tick(self, now: float) -> Snapshot:
        """One look at the network, the disk and every download, as of `now` (wall clock)."""
        network = self._sample_network()
        own = self._own_downloads(now)
        others = self._others.sample(
            now, exclude_pids={v.pid for v in own if v.pid}, exclude_paths={p for v in own for p in v.kept_paths}
        )
        seen = frozenset([*(("own", v.id, v.state, v.files_done) for v in own), *(("other", d.key) for d in others)])
        look = seen != self._downloads_seen or now - self._cache_looked_at >= CACHE_CHECK_INTERVAL
        self._downloads_seen = seen
        if look:
            self._cache_looked_at = now
        return Snapshot(
            at=now,
            stall_after=self.stall_after,
            own=own,
            others=others,
            network=network,
            disk=self.sources.disk(self.cache_dir),
            histories=self._record(now, (*own, *others)),
            look_at_cache=look,
            partials_in_cache=self._others.in_cache,
        )

    def wait_for_lookups(self, timeout: float = LOOKUP_TIMEOUT) -> None:
        """Give the names and sizes asked of endpoints up to `timeout` seconds to arrive."""
        self._others.wait_for_lookups(timeout)

    def _sample_network(self) -> ThroughputView:
        reading = self.sources.counters()
        with self._net_lock:
            self._net.add(reading)
            return self._net.view(self._interface)

    def next_interface(self) -> ThroughputView:
        """Show the next network interface (all but loopback, then each one); its view at once."""
        with self._net_lock:
            self._interface = next_interface(self._interface, self._net.interfaces())
            return self._net.view(self._interface)

    def _own_downloads(self, now: float) -> tuple[DownloadView, ...]:
        if self.supervisor is None:
            return ()
        return tuple(
            replace(
                v,
                remotes=(connections := process_connections(v.pid)).remotes,
                connections=connections.count,
                net_idle=connections.idle,
                endpoint_addresses=self._endpoint_addresses(v.endpoint, now),
                endpoint_is_hub=v.endpoint == self.home_endpoint,
            )
            if v.pid and v.state.active
            else v
            for v in self.supervisor.views(now)
        )

    def _endpoint_addresses(self, endpoint: str, now: float) -> frozenset[str]:
        known = self._addresses.get(endpoint)
        if known is None or now - known[0] > ENDPOINT_ADDRESSES_TTL:
            known = self._addresses[endpoint] = (now, host_addresses(endpoint))
        return known[1]

    def _record(self, now: float, rows: Iterable[Row]) -> Mapping[str, DownloadHistory]:
        histories = {}
        for row in rows:
            key = row_key(row)
            record = self._records.setdefault(key, _Record())
            rate = row.rate if isinstance(row, DownloadView) else row.progress.rate
            record.speeds.append(rate or 0.0)
            why = (
                (row.stall_evidence or row.error or "")
                if isinstance(row, DownloadView)
                else next(iter(row.evidence), "")
            )
            if not record.verdicts or record.verdicts[-1].state is not row.state:
                record.verdicts.append(VerdictChange(now, row.state, why))
            histories[key] = DownloadHistory(tuple(record.speeds), tuple(record.verdicts))
        self._records = {k: r for k, r in self._records.items() if k in histories}
        return MappingProxyType(histories)

    # --- the cache ---------------------------------------------------------------------------
    def look_at_cache(
        self, force: bool = False, on_progress: Callable[[CacheScan], object] | None = None
    ) -> CacheScan | None:
        """A new scan when the cache changed since the last one (or `force`), else None. Blocking.

        Only the repos whose fingerprint changed are read again, unless `force` (the user's `r`, or hftop
        changed the cache), which reads everything. `on_progress` gets the incomplete scans of a long one.
        """
        # The fingerprint is taken before the scan, so a change during the scan brings another one.
        fingerprint = self._changes.fingerprint()
        if not force and fingerprint == self._fingerprint:
            return None
        if force:
            self._scanner = CacheScanner(self.cache_dir)
        scan = self._scanner.scan(on_progress)
        self._fingerprint = fingerprint
        self.scans += 1
        return scan

    def look_at_folders(self, now: float, force: bool = False) -> HfFolders | None:
        """A new reading of the xet folder and the datasets cache every `FOLDERS_INTERVAL` seconds (or when
        `force`), else None. Blocking; called by one thread at a time (the cache worker)."""
        if not force and now - self._folders_looked_at < FOLDERS_INTERVAL:
            return None
        self._folders_looked_at = now
        return scan_hf_folders(self.xet_dir, self.datasets_dir, now)
