"""Facts that workers post to the app. Each carries frozen data only."""

from __future__ import annotations

from textual.message import Message

from tui.core.downloads import DownloadView, ExternalDownload
from tui.core.throughput import ThroughputView
from tui.probes.cache_scan import CacheScan
from tui.probes.disk import DiskSpace


class CacheScanned(Message):
    def __init__(self, scan: CacheScan) -> None:
        super().__init__()
        self.scan = scan


class NetworkSampled(Message):
    def __init__(self, view: ThroughputView) -> None:
        super().__init__()
        self.view = view


class DiskSampled(Message):
    def __init__(self, space: DiskSpace | None) -> None:
        super().__init__()
        self.space = space


class DownloadsSampled(Message):
    def __init__(self, views: tuple[DownloadView, ...]) -> None:
        super().__init__()
        self.views = views


class PartialsSampled(Message):
    """Partial files of downloads hftop did not start (its own are in DownloadsSampled)."""

    def __init__(self, downloads: tuple[ExternalDownload, ...]) -> None:
        super().__init__()
        self.downloads = downloads
