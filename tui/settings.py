"""Where hftop looks and how often: resolved once at start from the command line and the environment."""

from __future__ import annotations

import json
import math
import os
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.core.download_plan import DownloadRequest
from tui.core.mirrors import OFFICIAL_URL, Mirror, MirrorError, checked_url

DEFAULT_REFRESH = 1.0
MIN_REFRESH = 0.2
MAX_REFRESH = 3600.0
MAX_STALL_AFTER = 7 * 24 * 3600.0
"""A week: a longer threshold would never flag anything (and 1e308 minutes is an infinity of seconds)."""
MAX_WATCH = 24 * 3600.0
MAX_CONFIG_BYTES = 1 << 20
"""A config file is a few lines; anything larger is the wrong file (and is never read whole)."""
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
    return cache_dir_and_origin(environ, configured)[0]


def cache_dir_and_origin(environ: dict[str, str] | None = None, configured: Path | None = None) -> tuple[Path, str]:
    """`default_cache_dir`, and the name of what chose it, for messages: `HF_HUB_CACHE`, `HF_HOME`,
    `cache_dir` (the config's), `XDG_CACHE_HOME` or `the default cache folder`."""
    env = os.environ if environ is None else environ
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser(), "HF_HUB_CACHE"
    if env.get("HUGGINGFACE_HUB_CACHE"):
        return Path(env["HUGGINGFACE_HUB_CACHE"]).expanduser(), "HUGGINGFACE_HUB_CACHE"
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub", "HF_HOME"
    if configured is not None:
        return configured, "cache_dir"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "huggingface" / "hub", "XDG_CACHE_HOME"
    return Path(os.path.expanduser("~")) / ".cache" / "huggingface" / "hub", "the default cache folder"


def file_kind(mode: int) -> str:
    """What a file of this `st_mode` is, in words: a FIFO or a device is no "file" to a user."""
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a file"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((words for test, words in kinds if test(mode)), "not a file")


def cache_dir_problem(path: Path) -> str | None:
    """Why `path` cannot be the cache, in words; None when it is a folder or may become one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None  # created by the first download
    except NotADirectoryError:  # a download could never create it
        parent = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        what = f"{parent} is {file_kind(os.stat(parent).st_mode)}" if parent else "a parent is not a folder"
        return f"{path} cannot be a folder: {what}"
    except OSError as e:
        return f"cannot look at {path}: {e.strerror}"
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISREG(mode):
        return f"{path} is a file, not a folder"
    return f"{path} is not a folder ({file_kind(mode)})"


def default_endpoint(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("HF_ENDPOINT") or OFFICIAL_URL).rstrip("/")


def parse_refresh(text: str) -> float:
    """The `--refresh` value in seconds; raises ValueError with a sentence a user can act on."""
    return checked_refresh(_number(text, "--refresh", "seconds"), "--refresh")


def parse_stall_after(text: str) -> float:
    """The `--stall-after` value, given in minutes, returned in seconds."""
    return checked_stall_after(_number(text, "--stall-after", "minutes"), "--stall-after")


def parse_watch(text: str) -> float:
    """The doctor's `--watch` value in seconds: 0 (one look) to a day."""
    value = _number(text, "--watch", "seconds")
    if not 0 <= value <= MAX_WATCH:  # also false for nan
        raise ValueError(f"--watch must be between 0 and {MAX_WATCH:g} seconds (a day), got {text!r}")
    return value


def checked_refresh(seconds: float, name: str) -> float:
    """`seconds` if it is a refresh hftop can keep; `name` is the flag or key, for the message."""
    if not MIN_REFRESH <= seconds <= MAX_REFRESH:  # also false for nan
        raise ValueError(f"{name} must be between {MIN_REFRESH:g} and {MAX_REFRESH:g} seconds, got {seconds:g}")
    return seconds


def checked_stall_after(minutes: float, name: str) -> float:
    """The threshold in seconds, given in minutes."""
    if not 0 < minutes <= MAX_STALL_AFTER / 60:
        raise ValueError(
            f"{name} must be a positive number of minutes, at most {MAX_STALL_AFTER / 60:g} (a week), got {minutes:g}"
        )
    return minutes * 60


def _number(text: str, name: str, unit: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} takes a number of {unit}, got {text!r}") from None


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
    text = _config_text(path)
    if text is None:
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return Config(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except ValueError:  # tomllib lets Python's own limit through: an integer of over 4300 digits
        raise ConfigError(f"config file {path} holds a number too long to read") from None
    except RecursionError:
        raise ConfigError(f"config file {path} nests arrays or tables too deeply") from None

    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        known = ", ".join(CONFIG_KEYS)
        raise ConfigError(f"config file {path}: unknown key {unknown[0]!r} (known keys: {known})")

    def number(key: str, check: Callable[[float, str], float]) -> float | None:
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config file {path}: {key} takes a number, got {value!r}")
        try:
            as_float = float(value)
        except OverflowError:  # an integer beyond any float
            as_float = math.inf
        try:
            return check(as_float, key)
        except ValueError as e:
            raise ConfigError(f"config file {path}: {e}") from None

    cache_dir = data.get("cache_dir")
    if cache_dir is not None and (not isinstance(cache_dir, str) or not cache_dir.strip() or "\0" in cache_dir):
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
        stall_after=number("stall_after_minutes", checked_stall_after),
        refresh=number("refresh_seconds", checked_refresh),
        cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
    )


def _config_text(path: Path) -> str | None:
    """The config file's text, None when it does not exist. Only a regular file is opened: opening a
    FIFO waits for a writer, and /dev/zero never ends; even then, no more than MAX_CONFIG_BYTES is read."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            # O_NONBLOCK: should a FIFO replace the file meanwhile, the open does not wait for a writer.
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                raw = f.read(MAX_CONFIG_BYTES + 1) if stat.S_ISREG(mode) else b""
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"config file {path} is {file_kind(mode)}, not a regular file")
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config file")
    try:
        return raw.decode("utf-8-sig")  # -sig: a byte order mark, as some editors write, is no error
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start})"
        ) from None


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
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a byte order mark is not kept
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
