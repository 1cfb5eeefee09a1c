"""Facts that the dashboard's workers post. Each carries frozen data only and has one producer."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.core.folders import HfFolders
from tui.monitor.monitor import Snapshot
from tui.probes.cache_scan import CacheScan


@dataclass
class SnapshotTaken(Message):
    """The monitor's view of downloads, network and disk at one tick (from the snapshot worker)."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotTaken)  # a newer one makes this one stale


@dataclass
class CacheScanned(Message):
    """A new scan of the cache (from the cache worker)."""

    scan: CacheScan

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CacheScanned)


@dataclass
class FoldersRead(Message):
    """A new reading of the xet folder and the datasets cache (from the cache worker)."""

    folders: HfFolders

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FoldersRead)
