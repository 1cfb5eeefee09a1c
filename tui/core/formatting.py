"""How sizes, ages and rates read on screen. humanize does the work; these fix the conventions."""

from __future__ import annotations

from collections.abc import Sequence

import humanize


def size(num_bytes: float | None) -> str:
    """Decimal units, as `hf cache ls` and the Hub show them: `1.2 GB`, `512 B`."""
    if num_bytes is None:
        return "unknown"
    text = humanize.naturalsize(num_bytes, format="%.1f")
    return text.replace(" Bytes", " B").replace(" Byte", " B")


def rate(bytes_per_second: float | None) -> str:
    if bytes_per_second is None:
        return "–"
    return f"{size(bytes_per_second)}/s"


# humanize has no compact form; table columns need one that fits in 8 cells.
_COMPACT_UNITS = (
    (365 * 86400, "y"),
    (30 * 86400, "mo"),
    (7 * 86400, "w"),
    (86400, "d"),
    (3600, "h"),
    (60, "m"),
    (1, "s"),
)


def age_short(timestamp: float | None, now: float) -> str:
    """`now`, `42s ago`, `5m ago`, `3h ago`, `12d ago`, `4mo ago`, `2y ago`."""
    if timestamp is None:
        return "–"
    seconds = now - timestamp
    if seconds < 1:
        return "now"
    for unit_seconds, unit in _COMPACT_UNITS:
        if seconds >= unit_seconds:
            return f"{int(seconds // unit_seconds)}{unit} ago"
    return "now"


def short_hash(commit_hash: str, length: int = 12) -> str:
    return commit_hash[:length]


def count(n: int, noun: str) -> str:
    return f"{humanize.intcomma(n)} {noun}{'' if n == 1 else 's'}"


def duration(seconds: float | None) -> str:
    """Compact and fixed-ish width: `45s`, `4m05s`, `2h13m`, `3d04h`; `–` when unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "–"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def took(seconds: float) -> str:
    """How long something that ended took: `duration`, with `under 1s` rather than `0s`."""
    return "under 1s" if 0 <= seconds < 1 else duration(seconds)


_EIGHTHS = " ▁▂▃▄▅▆▇█"


def bar_rows(values: Sequence[float], width: int, height: int) -> list[str]:
    """`values` as `height` rows of block characters across `width` cells (top row first), each cell the
    largest value of its share of them, scaled to the largest of all; a baseline of `▁` where there is data.
    Fewer values than cells are stretched, as Textual's Sparkline does."""
    if width <= 0 or height <= 0:
        return [""] * max(0, height)
    n = len(values)
    if n == 0:  # nothing measured yet: the baseline alone
        return [" " * width] * (height - 1) + ["▁" * width]
    cells = []
    for i in range(width):
        start = i * n // width
        cells.append(max(values[start : max(start + 1, (i + 1) * n // width)]))
    top = max(cells)
    levels = [max(1, round(v / top * height * 8)) if top > 0 else 1 for v in cells]
    return [
        "".join(_EIGHTHS[min(8, max(0, level - (height - 1 - row) * 8))] for level in levels) for row in range(height)
    ]
