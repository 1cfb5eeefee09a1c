"""A large cache in the real layout, written directly (no server): for benchmarks and load tests.

Each repo gets refs/main, one snapshot of symlinks into blobs/, small blobs of distinct content.
The layout is the one huggingface_hub writes; `scan_cache_dir` reads it without warnings.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def build_synthetic_cache(cache_dir: Path, files: int, files_per_repo: int = 500, blob_size: int = 64) -> int:
    """Write `files` cached files spread over repos of `files_per_repo`; returns the number of repos."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    repos = max(1, -(-files // files_per_repo))
    written = 0
    for r in range(repos):
        repo = cache_dir / f"models--synthetic--repo-{r:05d}"
        commit = hashlib.sha1(f"commit-{r}".encode()).hexdigest()
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        blobs = repo / "blobs"
        snapshot = repo / "snapshots" / commit
        blobs.mkdir(exist_ok=True)
        snapshot.mkdir(parents=True, exist_ok=True)
        for i in range(min(files_per_repo, files - written)):
            content = f"{r}/{i}".encode().ljust(blob_size, b".")
            etag = hashlib.sha1(content).hexdigest()
            (blobs / etag).write_bytes(content)
            sub = snapshot / f"shard-{i // 100:03d}"
            sub.mkdir(exist_ok=True)
            os.symlink(f"../../../blobs/{etag}", sub / f"file-{i:05d}.bin")
            written += 1
    return repos


def cache_for_bench(given: Path | None, files: int) -> tuple[Path, Path | None]:
    """The cache a benchmark runs on: `given` (built there when it is missing), else one built in a new
    temporary folder. Returns (the cache, the temporary folder to remove afterwards, or None)."""
    import tempfile
    import time

    if given is not None:
        workdir, cache = None, given
    else:
        workdir = Path(tempfile.mkdtemp(prefix="hftop-bench-"))
        cache = workdir / "hub"
    if not cache.exists():
        started = time.perf_counter()
        repos = build_synthetic_cache(cache, files=files)
        print(f"built {files:,} files in {repos} repos in {time.perf_counter() - started:.1f} s at {cache}")
    return cache, workdir
