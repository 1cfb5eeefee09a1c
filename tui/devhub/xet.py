"""The devhub's Xet storage: xorbs made by hf_xet, and the CAS answers built from them.

A file's xorbs are made on first demand (its resolve HEAD or its repo's tree listing) by
`xet_build` in a child process, into a `local://` CAS folder. The hub then reads two formats:
- a shard (`…/shards/*.mdb`) lists each file's segments: xorb hash and chunk index range;
- a xorb (`…/xorbs/default.<hash>`) is chunks, each behind an 8-byte header (version u8,
  compressed length u24 LE, scheme u8, uncompressed length u24 LE), then a footer.
From these it answers `GET /v1/reconstructions/{file hash}` (with `Range`) as the Hub's CAS does.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .repos import HubFile

_ENTRY = 48  # every shard record (file header, segment, verification, metadata ext) is 48 bytes
_BOOKEND = b"\xff" * 32
_FLAG_VERIFICATION = 1 << 31
_FLAG_METADATA_EXT = 1 << 30
BUILD_TIMEOUT = 300.0
TERM_BYTES = 16 * 1024 * 1024
"""A reconstruction term holds at most this much of the file: hf_xet fetches a term in one request and
writes it only once it is whole, so the partial grows in steps of about this size."""


def _hash_hex(raw: bytes) -> str:
    """A Merkle hash as hf_xet writes it: four little-endian u64 words, each as 16 hex digits."""
    return "".join(raw[i : i + 8][::-1].hex() for i in range(0, 32, 8))


@dataclass(frozen=True)
class Segment:
    xorb: str
    chunk_start: int
    chunk_end: int  # exclusive
    unpacked: int


@dataclass(frozen=True)
class XorbLayout:
    """Where each chunk of a xorb sits: packed byte offsets (len n+1) and unpacked lengths (len n)."""

    packed: tuple[int, ...]
    unpacked: tuple[int, ...]


@dataclass(frozen=True)
class ChunkRun:
    """Chunks [start, end) of one xorb, holding file bytes [file_start, file_end)."""

    xorb: str
    start: int
    end: int
    file_start: int
    file_end: int


def read_shard(data: bytes) -> dict[str, tuple[Segment, ...]]:
    """File hash → its segments, from one shard's file info section."""
    footer = struct.unpack_from("<Q", data, len(data) - 8)[0]
    offset = struct.unpack_from("<Q", data, footer + 8)[0]
    files: dict[str, tuple[Segment, ...]] = {}
    while offset + _ENTRY <= len(data):
        raw = data[offset : offset + 32]
        flags, count = struct.unpack_from("<II", data, offset + 32)
        offset += _ENTRY
        if raw == _BOOKEND:
            break
        segments = []
        for _ in range(count):
            _xorb_flags, unpacked, start, end = struct.unpack_from("<IIII", data, offset + 32)
            segments.append(Segment(_hash_hex(data[offset : offset + 32]), start, end, unpacked))
            offset += _ENTRY
        if flags & _FLAG_VERIFICATION:
            offset += _ENTRY * count
        if flags & _FLAG_METADATA_EXT:
            offset += _ENTRY
        files[_hash_hex(raw)] = tuple(segments)
    return files


def read_xorb_layout(data: bytes) -> XorbLayout:
    packed, unpacked = [0], []
    pos = 0
    while pos + 8 <= len(data):
        version = data[pos]
        compressed = int.from_bytes(data[pos + 1 : pos + 4], "little")
        length = int.from_bytes(data[pos + 5 : pos + 8], "little")
        if version != 0 or data[pos + 4] > 3 or not compressed or pos + 8 + compressed > len(data):
            break  # the footer
        pos += 8 + compressed
        packed.append(pos)
        unpacked.append(length)
    return XorbLayout(tuple(packed), tuple(unpacked))


class XetStore:
    """Xorbs and reconstructions for the hub's files, made on first demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cas_dir = root / "cas"
        self._lock = threading.Lock()
        self._building = threading.Lock()
        """Held while a child makes xorbs: one build at a time, the data lock free meanwhile."""
        self._by_key: dict[tuple[int, int], str] = {}  # (seed, size) → xet file hash
        self._files: dict[str, HubFile] = {}  # xet file hash → file
        self._segments: dict[str, tuple[Segment, ...]] = {}
        self._runs: dict[str, tuple[ChunkRun, ...]] = {}
        self._layouts: dict[str, XorbLayout] = {}
        self._xorb_owner: dict[str, str] = {}  # xorb → file hash

    # --- building ---------------------------------------------------------------------------
    def file_hash(self, hub_file: HubFile) -> str:
        return self.ensure([hub_file])[0]

    def known_hash(self, hub_file: HubFile) -> str | None:
        with self._lock:
            return self._by_key.get((hub_file.seed, hub_file.size))

    def ensure(self, hub_files: list[HubFile]) -> list[str]:
        """The xet hashes of these files, making the xorbs of those not made yet (one child for all)."""
        with self._building:
            missing = [f for f in dict.fromkeys(hub_files) if self.known_hash(f) is None]
            if missing:
                self._build(missing)
        with self._lock:
            return [self._by_key[(f.seed, f.size)] for f in hub_files]

    def prepare(self, hub_files: list[HubFile], stopping: threading.Event) -> threading.Thread:
        """Make these files' xorbs one by one in the background, so that a first HEAD need not wait;
        a request for another file gets in between two of them."""

        def run() -> None:
            for f in hub_files:
                if stopping.is_set():
                    return
                try:
                    self.ensure([f])
                except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired):
                    return  # the request that needs it will say why

        thread = threading.Thread(target=run, name="devhub-xorbs", daemon=True)
        thread.start()
        return thread

    def _build(self, files: list[HubFile]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HF_XET_CACHE": str(self.root / "client"),
            "HF_XET_LOG_DEST": str(self.root / "logs") + "/",
        }
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tui.devhub.xet_build",
                str(self.cas_dir),
                *(f"{f.seed}:{f.size}" for f in files),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"xet_build failed: {out.stderr.strip()[-500:]}")
        made = {}
        for line in out.stdout.splitlines():
            entry = json.loads(line)
            made[(int(entry["seed"]), int(entry["size"]))] = str(entry["hash"])
        shards: dict[str, tuple[Segment, ...]] = {}
        for shard in sorted((self.cas_dir / "xet" / "xorbs" / "shards").glob("*.mdb")):
            shards.update(read_shard(shard.read_bytes()))
        with self._lock:
            for f in files:
                file_hash = made[(f.seed, f.size)]
                self._files[file_hash] = f
                self._segments[file_hash] = shards.get(file_hash, ())
                for segment in self._segments[file_hash]:
                    self._xorb_owner.setdefault(segment.xorb, file_hash)
                self._by_key[(f.seed, f.size)] = file_hash

    # --- reading ----------------------------------------------------------------------------
    def xorb_path(self, xorb: str) -> Path:
        return self.cas_dir / "xet" / "xorbs" / "xorbs" / f"default.{xorb}"

    def layout(self, xorb: str) -> XorbLayout:
        with self._lock:
            found = self._layouts.get(xorb)
        if found is None:
            found = read_xorb_layout(self.xorb_path(xorb).read_bytes())
            with self._lock:
                self._layouts[xorb] = found
        return found

    def file(self, file_hash: str) -> HubFile | None:
        with self._lock:
            return self._files.get(file_hash)

    def xorb_file(self, xorb: str) -> HubFile | None:
        """The file whose bytes a xorb holds (its faults apply to the xorb)."""
        with self._lock:
            owner = self._xorb_owner.get(xorb)
            return None if owner is None else self._files.get(owner)

    def runs(self, file_hash: str) -> tuple[ChunkRun, ...]:
        """The file as runs of chunks in file order, each with the file bytes it holds."""
        with self._lock:
            cached = self._runs.get(file_hash)
            segments = self._segments.get(file_hash, ())
        if cached is not None:
            return cached
        runs, at = [], 0
        for segment in segments:
            layout = self.layout(segment.xorb)
            start = segment.chunk_start
            while start < segment.chunk_end:
                end, length = start, 0
                while end < segment.chunk_end and (end == start or length + layout.unpacked[end] <= TERM_BYTES):
                    length += layout.unpacked[end]
                    end += 1
                runs.append(ChunkRun(segment.xorb, start, end, at, at + length))
                start, at = end, at + length
        with self._lock:
            self._runs[file_hash] = tuple(runs)
        return tuple(runs)

    def reconstruction(self, file_hash: str, first: int, last: int, xorb_url: str) -> dict[str, Any]:
        """The v1 answer for file bytes [first, last] (inclusive, as in `Range`)."""
        terms: list[dict[str, Any]] = []
        fetch: dict[str, list[dict[str, Any]]] = {}
        offset_into_first = 0
        for run in self.runs(file_hash):
            if run.file_end <= first or run.file_start > last:
                continue
            layout = self.layout(run.xorb)
            # Chunk boundaries of this run in file offsets, to trim it to the chunks the range needs.
            starts = [run.file_start]
            for i in range(run.start, run.end):
                starts.append(starts[-1] + layout.unpacked[i])
            lo = run.start + max(0, bisect_right(starts, first) - 1)
            hi = run.start + min(run.end - run.start, bisect_right(starts, last))
            if not terms:
                offset_into_first = first - starts[lo - run.start]
            unpacked = starts[hi - run.start] - starts[lo - run.start]
            terms.append({"hash": run.xorb, "unpacked_length": unpacked, "range": {"start": lo, "end": hi}})
            entry = {
                "range": {"start": lo, "end": hi},
                "url": f"{xorb_url}/xorbs/default/{run.xorb}",
                "url_range": {"start": layout.packed[lo], "end": layout.packed[hi] - 1},
            }
            if entry not in fetch.setdefault(run.xorb, []):
                fetch[run.xorb].append(entry)
        return {"offset_into_first_range": offset_into_first, "terms": terms, "fetch_info": fetch}

    def packed_offset(self, xorb: str, file_offset: int) -> int:
        """The xorb byte at which the file reaches `file_offset`: 0 before the xorb's part, its end after."""
        layout = self.layout(xorb)
        owner = self._xorb_owner.get(xorb)
        runs = [r for r in self.runs(owner) if r.xorb == xorb] if owner else []
        if not runs or file_offset <= runs[0].file_start:
            return 0
        for run in runs:
            if file_offset < run.file_end:
                at = run.file_start
                for chunk in range(run.start, run.end):
                    if file_offset < at + layout.unpacked[chunk]:
                        return layout.packed[chunk] + min(
                            file_offset - at, layout.packed[chunk + 1] - layout.packed[chunk]
                        )
                    at += layout.unpacked[chunk]
        return layout.packed[-1]
