"""Faults the devhub injects into what it serves, and their text form for the command line."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, fields
from typing import Any

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "ki": 2**10,
    "kib": 2**10,
    "mi": 2**20,
    "mib": 2**20,
    "gi": 2**30,
    "gib": 2**30,
}


def parse_bytes(text: str) -> int:
    """`"2MB"` → 2_000_000, `"10MiB"` → 10_485_760, `"512"` → 512."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 512, 64KB, 2MB, 10MiB)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


@dataclass(frozen=True)
class Fault:
    """What goes wrong when a matching file is requested. Every field is optional."""

    throttle: int | None = None
    """Serve the body at this many bytes per second."""
    link: bool = False
    """The throttle is one link that every file the pattern matches shares, connection by connection (a slow
    home line), not each file's own."""
    tail_rate: int | None = None
    """Serve the last `tail_fraction` of the file at this many bytes per second (a slow tail)."""
    tail_fraction: float = 0.02
    stall_after: int | None = None
    """Stop sending once the file offset reaches this many bytes, and hold the connection open. Over Xet,
    the terms past it stall at once, whatever order hf_xet asks for them in."""
    drop_after: int | None = None
    """Close the connection once the file offset reaches this many bytes ..."""
    drop_times: int = 1
    """... on this many requests; later requests are served whole."""
    status: int | None = None
    """Answer with this HTTP status (5xx, 429) ..."""
    status_times: int = 1
    """... for this many requests of the file (HEAD and GET alike)."""
    corrupt: bool = False
    """Flip bytes in the body (the ETag stays the one of the real content)."""
    ignore_range: bool = False
    """Answer a `Range` request with the whole file (200), as some proxies and mirrors do."""
    gone: bool = False
    """The file is gone upstream: its resolve URL and its download answer 404."""
    over: str | None = None
    """Only on this path of the file's bytes: "xet" (the CAS and xorb storage) or "http" (resolve and the
    download origin, as under HF_HUB_DISABLE_XET=1); None: on both."""

    def __post_init__(self) -> None:
        if self.over not in (None, "xet", "http"):
            raise ValueError(f"over must be xet or http, not {self.over!r}")

    def applies_to(self, transport: str) -> bool:
        """Whether it touches a request on `transport`: "xet", "http", or "both" (the resolve HEAD)."""
        return self.over is None or self.over == transport

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


_FLAGS = ("corrupt", "ignore_range", "gone", "link")


def parse_fault(text: str) -> tuple[str, Fault]:
    """Parse `PATTERN:key=value,key=value` (pattern matches `repo_id/path`, `*` for all).

    Example: `hftop-demo/vit-huge/*:throttle=2MB,tail_rate=50KB` or `*:status=503,status_times=2`.
    """
    pattern, sep, spec = text.rpartition(":")
    if not sep:
        pattern, spec = "*", text
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key in _FLAGS and not eq:
            values[key] = True
            continue
        if not eq:
            raise ValueError(f"expected key=value in fault {text!r}, got {item!r}")
        if key in {"throttle", "tail_rate", "stall_after", "drop_after"}:
            values[key] = parse_bytes(value)
        elif key in {"status", "status_times", "drop_times"}:
            values[key] = int(value)
        elif key == "tail_fraction":
            values[key] = float(value)
        elif key in _FLAGS:
            values[key] = value.lower() in {"1", "true", "yes"}
        elif key == "over":
            values[key] = value.strip().lower()
        else:
            raise ValueError(f"unknown fault field {key!r} in {text!r}")
    return pattern or "*", Fault(**values)


def matching_fault(faults: dict[str, Fault], key: str) -> tuple[str, Fault] | None:
    """The most specific fault whose pattern matches `repo_id/path` (exact name beats a glob beats `*`)."""
    best: tuple[int, str, Fault] | None = None
    for pattern, fault in faults.items():
        if not fnmatch.fnmatchcase(key, pattern):
            continue
        rank = 2 if pattern == key else (0 if pattern == "*" else 1)
        if best is None or rank > best[0]:
            best = (rank, pattern, fault)
    return None if best is None else (best[1], best[2])
