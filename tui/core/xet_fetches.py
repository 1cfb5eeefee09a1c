"""Which of a process's files hf_xet fetches now, from what its log says.

hf_xet pools its connections for all the files a process downloads at once and buffers far ahead of them,
so neither a socket nor a file's growth tells which file the bytes are for. Its log does, with its scheduling
(hf_xet 1.8, seen against the devhub, one file or eight at once):
- It fetches `concurrency` terms at once, across all files; its adaptive controller logs the figure.
- A file's terms come in blocks (up to 256 MB of the file each), logged as they arrive. Terms are fetched in
  that order, first come first served: the first file's terms all, then the next file's. Blocks that arrive
  within the same millisecond may have their terms begun in another order (its two threads race): the log
  cannot tell, and the model takes the logged order.
- It logs each fetch as its answer begins ("s3::get_range api call succeeded"): one line a term.
So the terms under way are the last `concurrency` it began, less those known to have ended: their file is
on disk past them (written in file order, once whole), or the file is gone (placed). Fetches under way
receive alike (the network shares itself out by connection), so a file's part of its process's bytes
follows the number of its terms among them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FIRST_CONCURRENCY = 4
"""Term fetches hf_xet 1.8 runs at once before its controller logs a figure (`ac_initial_download_concurrency`)."""


@dataclass(frozen=True)
class TermBlock:
    """A block of one file's Xet terms, as hf_xet's log says it received it from the CAS and queued them."""

    file: str
    """The partial file's name (hf_xet writes to `<etag>.<8 hex>.incomplete`)."""
    start: int
    end: int
    """The file's bytes it covers, [start, end)."""
    terms: int


@dataclass(frozen=True)
class XetQueue:
    """What a process's hf_xet log said so far."""

    blocks: tuple[TermBlock, ...]
    """Its term blocks, in the order it received them: the order it fetches their terms."""
    started: int
    """Term fetches begun."""
    concurrency: int = FIRST_CONCURRENCY
    """How many it runs at once."""


@dataclass(frozen=True)
class XetTurn:
    """A file's place among the term fetches its process's hf_xet runs at once."""

    slots: int
    """How many of them fetch this file's terms."""
    concurrency: int
    """How many it runs at once."""
    files_ahead: int
    """For a file with none: how many of its other files hold them."""


def xet_turns(queue: XetQueue, on_disk: Mapping[str, int]) -> dict[str, XetTurn]:
    """Each of a process's partial files (by name, with its bytes on disk) and its terms under way."""
    begun: list[tuple[str, int]] = []  # (file, where the term ends), in the order the fetches began
    for block in queue.blocks:
        count = max(1, block.terms)
        size = max(0, block.end - block.start)
        begun.extend((block.file, block.start + size * (i + 1) // count) for i in range(count))
        if len(begun) >= queue.started:
            break
    window = begun[: queue.started][-max(1, queue.concurrency) :]
    slots = dict.fromkeys(on_disk, 0)
    for name, end in window:
        if name in on_disk and on_disk[name] < end:
            slots[name] += 1
    busy = sum(1 for n in slots.values() if n)
    return {name: XetTurn(n, queue.concurrency, 0 if n else busy) for name, n in slots.items()}
