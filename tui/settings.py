"""Where hftop looks and how often: resolved once at start from the command line and the environment."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.core.download_plan import DownloadRequest
from tui.core.mirrors import OFFICIAL_URL, Mirror, MirrorError, checked_url

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
    read_only: bool = False
    """Change nothing: no download started, cancelled or stopped, no file deleted (beside a training job)."""
    mirrors: tuple[Mirror, ...] = ()
    """Mirrors from the config file, besides the built-in ones."""
    config_path: Path | None = None
    """Where a chosen endpoint is saved."""


def default_cache_dir(environ: dict[str, str] | None = None, configured: Path | None = None) -> Path:
    """The cache huggingface_hub itself would use: HF_HUB_CACHE, else HF_HOME/hub, else the config file's
    `cache_dir` (`configured`), else the XDG default.

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
    if configured is not None:
        return configured
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def default_endpoint(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("HF_ENDPOINT") or OFFICIAL_URL).rstrip("/")


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


class ConfigError(ValueError):
    """The config file cannot be read or holds a value hftop cannot use; the message names the file and key."""


@dataclass(frozen=True)
class Config:
    """What the config file sets; None where it is silent, so the command line and environment decide."""

    path: Path
    stall_after: float | None = None
    refresh: float | None = None
    cache_dir: Path | None = None
    read_only: bool = False
    endpoint: str | None = None
    mirrors: tuple[Mirror, ...] = ()


CONFIG_KEYS = {
    "stall_after_minutes": "minutes without progress before a download counts as stalled",
    "refresh_seconds": "seconds between two samples",
    "cache_dir": "the Hub cache to show",
    "read_only": "true: change nothing (no download started, cancelled or stopped, no file deleted)",
    "endpoint": "the endpoint new downloads use when neither --endpoint nor HF_ENDPOINT says",
    "mirrors": "[[mirrors]] tables: name, url, trusted (may see your token), allow_http",
}


def default_config_path(environ: dict[str, str] | None = None) -> Path:
    """`HFTOP_CONFIG`, else `$XDG_CONFIG_HOME/hftop/config.toml`, else `~/.config/hftop/config.toml`."""
    env = os.environ if environ is None else environ
    if env.get("HFTOP_CONFIG"):
        return Path(env["HFTOP_CONFIG"]).expanduser()
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(xdg) / "hftop" / "config.toml"


def load_config(path: Path, *, required: bool = False) -> Config:
    """Read the config file. A missing file is an empty config unless the user named it (`required`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return Config(path)
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None

    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        known = ", ".join(CONFIG_KEYS)
        raise ConfigError(f"config file {path}: unknown key {unknown[0]!r} (known keys: {known})")

    def number(key: str, parse: Callable[[str], float]) -> float | None:
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config file {path}: {key} takes a number, got {value!r}")
        try:
            return parse(str(value))
        except ValueError as e:
            # The parsers speak of command-line flags; say the key instead.
            raise ConfigError(f"config file {path}: {key} must {str(e).split(' must ', 1)[-1]}") from None

    cache_dir = data.get("cache_dir")
    if cache_dir is not None and (not isinstance(cache_dir, str) or not cache_dir.strip()):
        raise ConfigError(f"config file {path}: cache_dir takes a folder path as a string, got {cache_dir!r}")
    mirrors = _mirrors(path, data.get("mirrors", []))
    endpoint = data.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise ConfigError(f"config file {path}: endpoint takes a URL as a string, got {endpoint!r}")
        allow = any(m.url == endpoint.strip().rstrip("/") for m in mirrors)  # a mirror listed with allow_http
        try:
            endpoint = checked_url(endpoint, allow_http=allow and endpoint.startswith("http:"))
        except MirrorError as e:
            raise ConfigError(f"config file {path}: endpoint: {e}") from None
    read_only = data.get("read_only", False)
    if not isinstance(read_only, bool):
        raise ConfigError(f"config file {path}: read_only takes true or false, got {read_only!r}")
    return Config(
        path=path,
        read_only=read_only,
        endpoint=endpoint,
        mirrors=mirrors,
        stall_after=number("stall_after_minutes", parse_stall_after),
        refresh=number("refresh_seconds", parse_refresh),
        cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
    )


def _mirrors(path: Path, entries: object) -> tuple[Mirror, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"config file {path}: mirrors are [[mirrors]] tables with name and url")
    found = []
    for i, entry in enumerate(entries, 1):
        unknown = sorted(set(entry) - {"name", "url", "trusted", "allow_http"})
        if unknown:
            raise ConfigError(
                f"config file {path}: mirror {i}: unknown key {unknown[0]!r} (name, url, trusted, allow_http)"
            )
        name, url = entry.get("name"), entry.get("url")
        trusted, allow_http = entry.get("trusted", False), entry.get("allow_http", False)
        if not isinstance(name, str) or not name.strip() or not isinstance(url, str):
            raise ConfigError(f"config file {path}: mirror {i} needs a name and a url, as strings")
        if not isinstance(trusted, bool) or not isinstance(allow_http, bool):
            raise ConfigError(f"config file {path}: mirror {name!r}: trusted and allow_http take true or false")
        try:
            url = checked_url(url, allow_http=allow_http)
        except MirrorError as e:
            raise ConfigError(f"config file {path}: mirror {name!r}: {e}") from None
        found.append(Mirror(name.strip(), url, trusted))
    return tuple(found)


def save_endpoint(path: Path, endpoint: str) -> None:
    """Record the chosen endpoint in the config file, keeping everything else in it as written
    (comments included): the `endpoint = ...` line is replaced, or added at the top."""
    line = f"endpoint = {json.dumps(endpoint)}"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    replaced = False
    for i, text in enumerate(lines):
        if text.lstrip().startswith("["):
            break  # top-level keys end where the first table starts
        if text.split("=", 1)[0].strip() == "endpoint":
            lines[i], replaced = line, True
            break
    if not replaced:
        lines.insert(0, line)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)  # never a half-written config
