"""`hftop resume`: continue partial downloads from the bytes they have, for scripts.

Each file's rest is fetched with a `Range` request, the whole file checked against its blob name and placed in
the cache as huggingface_hub places it. The exit status is 0 only when every file asked for was placed and
checked, 1 otherwise (each reason is said).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tui.actions.resume import Resumable, ResumeFailed, identify, partial_parts, resume
from tui.core import formatting as fmt
from tui.probes.partials import PartialFile, find_partials

PROGRESS_EVERY = 0.5
"""Seconds between two redraws of the progress line on a terminal."""


@dataclass(frozen=True)
class _Choice:
    partial: Path
    refused: str | None = None
    """Why it is not resumed (a live process writes it)."""


def choose(cache_dir: Path, paths: list[Path], every: bool) -> tuple[list[_Choice], list[str]]:
    """The partial files to resume, and the paths refused outright with their reasons."""
    found = {str(p.path): p for p in find_partials(cache_dir)}
    choices: list[_Choice] = []
    refused: list[str] = []
    if every:
        # The largest partial of a blob first: a smaller one of the same blob is then of no use.
        ordered = sorted(found.values(), key=lambda p: (str(p.path.parent), p.etag, -p.real_bytes))
        choices += [_Choice(p.path, _busy(p)) for p in ordered]
    cache = cache_dir.resolve()
    for path in paths:
        absolute = path.absolute()
        if not path.exists():
            refused.append(f"{path}: no such file")
            continue
        if path.is_dir():
            refused.append(f"{path}: a folder, not a partial file (--all resumes every partial file in the cache)")
            continue
        if cache not in absolute.resolve().parents:
            refused.append(f"{path}: not inside the cache {cache_dir} (give the cache with --cache-dir)")
            continue
        try:
            partial_parts(absolute)
        except ResumeFailed as error:
            refused.append(str(error))
            continue
        seen = found.get(str(absolute)) or next(
            (p for p in found.values() if p.path.resolve() == absolute.resolve()), None
        )
        choices.append(_Choice(seen.path if seen else absolute, _busy(seen) if seen else None))
    return choices, refused


def _busy(p: PartialFile | None) -> str | None:
    if p is None:
        return None
    if p.owners:
        command = p.owners[0].command
        return f"process {p.owners[0].pid} ({command[:60] + '…' if len(command) > 60 else command}) is writing it"
    if p.lock_holder is not None and not p.taken_over:
        who = "a process out of sight" if p.lock_holder == 0 else f"process {p.lock_holder}"
        return f"{who} holds its lock: it is being downloaded"
    return None


def run(
    cache_dir: Path,
    paths: list[Path],
    every: bool,
    endpoint: str,
    token: str | bool | None,
    out: TextIO,
    live: bool = False,
) -> int:
    """Resume the partials; `live`: `out` is a terminal, so the progress line redraws in place.

    Exit status: 2 when a path given is no partial file of the cache (nothing is resumed then), 1 when a
    file could not be placed, 0 otherwise; with `every`, files a live process writes are left alone and said."""
    if not cache_dir.is_dir():
        print(f"hftop: no Hub cache at {cache_dir}", file=out)
        return 2
    choices, refused = choose(cache_dir, paths, every)
    if refused:
        for line in refused:
            print(f"hftop: {line}", file=out)
        return 2
    if not choices:
        print(f"hftop: no partial download files in {cache_dir}: nothing to resume", file=out)
        return 0
    placed, failures, left = 0, 0, 0
    for choice in choices:
        label = choice.partial.name
        if choice.refused is not None:
            print(f"hftop: {label}: not resumed: {choice.refused}", file=out)
            left += 1
            if not every:
                failures += 1
            continue
        try:
            target = identify(cache_dir, choice.partial, endpoint)
        except ResumeFailed as error:
            print(f"hftop: {label}: {error}", file=out)
            failures += 1
            continue
        try:
            done = _resume_one(target, endpoint, token, out, live)
        except ResumeFailed as error:
            print(f"hftop: {target.label}: {error}", file=out)
            failures += 1
            continue
        placed += 1
        print(done, file=out)
    alone = f", {left} left alone (a live process writes it)" if every and left else ""
    if failures or alone:
        print(f"hftop: {placed} placed and checked, {failures} not{alone}", file=out)
    return 1 if failures else 0


def _resume_one(target: Resumable, endpoint: str, token: str | bool | None, out: TextIO, live: bool) -> str:
    drawn = [0.0]
    began = [time.monotonic(), 0]

    def start(reused: int, size: int) -> None:
        began[:] = [time.monotonic(), reused]
        print(
            f"{target.label}: resumes at {fmt.size(reused)} of {fmt.size(size)}: "
            f"{fmt.size(size - reused)} to fetch from {endpoint}",
            file=out,
            flush=True,
        )

    def progress(have: int, size: int) -> None:
        now = time.monotonic()
        if not live or (now - drawn[0] < PROGRESS_EVERY and have < size):
            return
        drawn[0] = now
        rate = (have - began[1]) / max(now - began[0], 1e-6)
        line = f"  {fmt.size(have)} of {fmt.size(size)} ({100 * have / size:.0f}%) at {fmt.rate(rate)}"
        out.write("\r" + line.ljust(60))
        out.flush()

    result = resume(target, endpoint=endpoint, token=token, on_progress=progress, on_start=start)
    if live:
        out.write("\r" + " " * 60 + "\r")
    if result.reused == result.fetched == 0:
        return f"{target.label}: already in the cache (another download finished it); its partial file is removed"
    where = "the shared blob store, linked from the repo" if result.shared else "the repo's blobs"
    return (
        f"{target.label}: placed and checked ({fmt.size(result.reused)} reused, {fmt.size(result.fetched)} fetched) "
        f"in {where}: {result.pointer}"
    )
