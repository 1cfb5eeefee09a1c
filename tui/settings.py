"""Where hftop looks and how often: resolved once at start from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tui.core.download_plan import DownloadRequest

DEFAULT_REFRESH = 1.0
MIN_REFRESH = 0.2
DEFAULT_STALL_AFTER = 300.0
"""Seconds without progress before a download counts as stalled: above the Xet client's own 300 s
read timeout, so downloads that heal themselves are not flagged."""
DEMO_STALL_AFTER = 20.0
"""The demo's threshold, so its stalled download shows as such within a minute."""


@dataclass(frozen=True)
class Settings:
    cache_dir: Path
    """The Hub cache (`HF_HUB_CACHE`): the folder holding `models--org--name` folders."""
    endpoint: str
    """The Hub endpoint new downloads use (`HF_ENDPOINT`)."""
    refresh: float = DEFAULT_REFRESH
    """Seconds between two samples of the network, the cache and the downloads."""
    demo: bool = False
    """The cache and endpoint belong to a throwaway demo hub that hftop started."""
    stall_after: float = DEFAULT_STALL_AFTER
    """Seconds without a new byte (on disk or on the network) before a download is stalled."""
    start_downloads: tuple[DownloadRequest, ...] = ()
    """Downloads to plan and start at launch (the demo's)."""


def default_cache_dir(environ: dict[str, str] | None = None) -> Path:
    """The cache huggingface_hub itself would use: HF_HUB_CACHE, else HF_HOME/hub, else the XDG default.

    huggingface_hub reads these variables once at import; hftop resolves them the same way from the
    environment it was started with, so a test can pass its own.
    """
    env = os.environ if environ is None else environ
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HUGGINGFACE_HUB_CACHE"):
        return Path(env["HUGGINGFACE_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def default_endpoint(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def parse_refresh(text: str) -> float:
    """The `--refresh` value in seconds; raises ValueError with a sentence a user can act on."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--refresh takes a number of seconds, got {text!r}") from None
    if not value >= MIN_REFRESH or value != value or value == float("inf"):
        raise ValueError(f"--refresh must be at least {MIN_REFRESH} seconds, got {text!r}")
    return value


def parse_stall_after(text: str) -> float:
    """The `--stall-after` value, given in minutes, returned in seconds."""
    try:
        minutes = float(text)
    except ValueError:
        raise ValueError(f"--stall-after takes a number of minutes, got {text!r}") from None
    if not 0 < minutes < float("inf"):
        raise ValueError(f"--stall-after must be a positive number of minutes, got {text!r}")
    return minutes * 60
