"""Evidence from hf_xet's own log: `$HF_XET_CACHE/logs/*_<pid>.log`, JSON lines written by the
Xet client inside a downloading process (its last activity, retries, errors such as a 403).

hf_xet 1.8 does not log a full disk: its "No space left on device" reaches only the program, as the
RuntimeError huggingface_hub raises before it deletes its partial file; hftop tells a full disk from the free
space beside the partial instead."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tui.core.xet_fetches import FIRST_CONCURRENCY, TermBlock, XetQueue

TAIL_BYTES = 64 * 1024

_CONCURRENCY = re.compile(r"for download.*?(?:concurrency = |concurrency from \d+ to )(\d+)")


@dataclass(frozen=True)
class XetLogReading:
    path: Path
    last_entry: float | None
    """When the client last wrote anything (epoch seconds)."""
    last_problem: str | None
    """Its last warning or error, in its own words."""


def hf_home_folder(environ: dict[str, str], variable: str, name: str) -> Path:
    """`$variable`, else `$HF_HOME/<name>`, else `<XDG cache>/huggingface/<name>`: how huggingface_hub, hf_xet
    and datasets each find their folder in a process with this environment."""
    if environ.get(variable):
        return Path(environ[variable]).expanduser()
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser() / name
    xdg = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / name


def xet_cache_dir(environ: dict[str, str]) -> Path:
    """Where hf_xet of a process with this environment keeps its cache (and its logs)."""
    return hf_home_folder(environ, "HF_XET_CACHE", "xet")


def read_xet_log(xet_cache: Path, pid: int) -> XetLogReading | None:
    """The newest log of process `pid`, or None when it wrote none (plain HTTP, or no Xet)."""
    try:
        logs = [e for e in os.scandir(xet_cache / "logs") if e.name.endswith(f"_{pid}.log")]
    except OSError:
        return None
    if not logs:
        return None
    newest = max(logs, key=lambda e: e.stat().st_mtime)
    try:
        with open(newest.path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL_BYTES))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    last_entry, problem = None, None
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        when = _timestamp(entry.get("timestamp"))
        last_entry = when if when is not None else last_entry
        if str(entry.get("level", "")).upper() in ("WARN", "WARNING", "ERROR"):
            message = _message(entry)
            if not _routine(message):
                problem = message
    if last_entry is None:
        last_entry = newest.stat().st_mtime
    return XetLogReading(Path(newest.path), last_entry, problem)


def _routine(message: str) -> bool:
    """hf_xet logs its fallback from the v2 reconstruction API to v1 as a fatal error; it is not one."""
    return "get_reconstruction_v2" in message and ("404" in message or "501" in message)


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _message(entry: dict[str, Any]) -> str:
    fields = entry.get("fields")
    if not isinstance(fields, dict):
        fields = {}
    message = str(fields.get("message") or entry.get("message") or "")
    extra = [f"{k}={v}" for k, v in fields.items() if k != "message"]
    text = " ".join([message, *extra]).strip()
    return text[:200]


@dataclass
class _Followed:
    offset: int = 0
    files: dict[str, str] = field(default_factory=dict)
    """File hash → the partial file's name."""
    blocks: list[TermBlock] = field(default_factory=list)
    started: int = 0
    concurrency: int = FIRST_CONCURRENCY


class XetLogFollower:
    """Follows processes' hf_xet logs as they grow, reading each line once: the term blocks hf_xet queued
    for each file, in order, and how many term fetches it runs at once. hf_xet 1.8 logs these at INFO, its
    default: "Reconstructing file to disk" (hash and path), "Received block of file terms from prefetch
    queue" (hash, byte range, term count), "Request Success: s3::get_range api call succeeded" (a term's
    fetch begins to answer), and its concurrency controller's "Current concurrency = N" and "Increased
    concurrency from A to B"."""

    def __init__(self) -> None:
        self._followed: dict[Path, _Followed] = {}

    def queue(self, log: Path) -> XetQueue | None:
        """What the log says so far; None when it cannot be read or names no term block."""
        state = self._followed.setdefault(log, _Followed())
        try:
            with open(log, "rb") as f:
                f.seek(state.offset)
                data = f.read()
        except OSError:
            return None
        complete = data.rfind(b"\n") + 1
        state.offset += complete
        for line in data[:complete].decode("utf-8", "replace").splitlines():
            _follow(state, line)
        if not state.blocks:
            return None
        return XetQueue(tuple(state.blocks), state.started, state.concurrency)

    def forget_others(self, logs: set[Path]) -> None:
        """Stop following every log but these (their processes are gone, or write one file)."""
        self._followed = {p: s for p, s in self._followed.items() if p in logs}


def _follow(state: _Followed, line: str) -> None:
    if "s3::get_range api call succeeded" in line:
        state.started += 1
        return
    if "file_hash" not in line and "oncurrency" not in line:
        return
    try:
        entry = json.loads(line)
    except ValueError:
        return
    fields = entry.get("fields") if isinstance(entry, dict) else None
    if not isinstance(fields, dict):
        return
    message = str(fields.get("message", ""))
    file_hash = fields.get("file_hash")
    if (found := _CONCURRENCY.search(message)) is not None:
        state.concurrency = max(1, int(found.group(1)))
    elif message == "Reconstructing file to disk" and isinstance(file_hash, str):
        state.files[file_hash] = os.path.basename(str(fields.get("path", "")).strip('"'))
    elif message.startswith("Received block of file terms") and isinstance(file_hash, str):
        try:
            start, end, terms = (int(fields[k]) for k in ("block_start", "block_end", "block_size"))
        except (KeyError, TypeError, ValueError):
            return
        if file_hash in state.files:
            state.blocks.append(TermBlock(state.files[file_hash], start, end, terms))
