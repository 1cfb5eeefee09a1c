"""The repos the devhub serves: generated deterministically, so every run serves the same bytes.

A file's content is a function of its seed; it is produced slice by slice, so a 200 MB file costs
no memory. Digests (git blob sha1, sha256) are computed once on first use and remembered.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from functools import lru_cache

_BASE_BLOCK = 64 * 1024
# Files larger than this are served the way the Hub serves LFS files: a redirect to a download origin.
LFS_THRESHOLD = 1024 * 1024


@lru_cache(maxsize=64)
def _block(seed: int, index: int) -> bytes:
    # Every block drawn afresh: no two stretches of a file repeat, so Xet's chunk compression and
    # dedup find nothing to save, as on real weights, and bytes on the wire match bytes in the file.
    return random.Random(seed * 1_000_003 + index).randbytes(_BASE_BLOCK)


def content_slice(seed: int, size: int, start: int, end: int) -> bytes:
    """Bytes [start, end) of the file generated from `seed` with total length `size`."""
    end = min(end, size)
    if start >= end:
        return b""
    out = bytearray()
    pos = start
    while pos < end:
        block_index, offset = divmod(pos, _BASE_BLOCK)
        take = min(_BASE_BLOCK - offset, end - pos)
        out += _block(seed, block_index)[offset : offset + take]
        pos += take
    return bytes(out)


@lru_cache(maxsize=256)
def _digests(seed: int, size: int) -> tuple[str, str]:
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % size)
    step = 4 * 1024 * 1024
    for start in range(0, size, step):
        chunk = content_slice(seed, size, start, start + step)
        sha256.update(chunk)
        sha1.update(chunk)
    return sha256.hexdigest(), sha1.hexdigest()


@dataclass(frozen=True)
class HubFile:
    """One file of one commit."""

    path: str
    size: int
    seed: int

    @property
    def is_lfs(self) -> bool:
        return self.size > LFS_THRESHOLD

    @property
    def sha256(self) -> str:
        return _digests(self.seed, self.size)[0]

    @property
    def git_sha1(self) -> str:
        """The git blob id: what the Hub sends as the ETag of a small (non-LFS) file."""
        return _digests(self.seed, self.size)[1]

    @property
    def etag(self) -> str:
        """The name huggingface_hub gives the blob in its cache."""
        return self.sha256 if self.is_lfs else self.git_sha1

    def read(self, start: int, end: int) -> bytes:
        return content_slice(self.seed, self.size, start, end)


@dataclass(frozen=True)
class HubCommit:
    sha: str
    files: tuple[HubFile, ...]

    def file(self, path: str) -> HubFile | None:
        for f in self.files:
            if f.path == path:
                return f
        return None


@dataclass(frozen=True)
class HubRepo:
    repo_type: str  # "model", "dataset", "space"
    repo_id: str
    commits: tuple[HubCommit, ...]
    refs: dict[str, str] = field(default_factory=dict)  # ref name -> commit sha

    def resolve(self, revision: str) -> HubCommit | None:
        sha = self.refs.get(revision, revision)
        for commit in self.commits:
            if commit.sha == sha:
                return commit
        return None


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def _seed(*parts: object) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _files(repo_id: str, spec: dict[str, int], salt: str = "") -> tuple[HubFile, ...]:
    return tuple(HubFile(path=p, size=s, seed=_seed(repo_id, p, salt)) for p, s in spec.items())


MB = 1_000_000


DEMO_DOWNLOADS = {
    "hftop-demo/mistral-nano": 160 * MB,
    "hftop-demo/phi-tiny": 120 * MB,
    "hftop-demo/qwen-small": 90 * MB,
    "hftop-demo/bloom-mini": 70 * MB,
}
"""Repos `hftop --demo` downloads while it runs: healthy, slow tail, stall, failure."""


def default_repos() -> dict[tuple[str, str], HubRepo]:
    """The catalogue served by default. Keys are (repo_type, repo_id)."""
    repos: list[HubRepo] = []

    # A model with two commits: v1 is reachable only by its hash and the tag "v1.0"; main moved on.
    # config.json is identical in both commits (a blob shared by two revisions).
    rid = "hftop-demo/tiny-bert"
    v1_files = _files(rid, {"config.json": 512, "model.safetensors": 12 * MB, "tokenizer.json": 96_000})
    v2_files = (
        v1_files[0],
        HubFile("model.safetensors", 14 * MB, _seed(rid, "model.safetensors", "v2")),
        HubFile("tokenizer.json", 98_000, _seed(rid, "tokenizer.json", "v2")),
        HubFile("onnx/model.onnx", 6 * MB, _seed(rid, "onnx/model.onnx")),
    )
    v1, v2 = HubCommit(_sha(rid, 1), v1_files), HubCommit(_sha(rid, 2), v2_files)
    repos.append(HubRepo("model", rid, (v1, v2), {"main": v2.sha, "v1.0": v1.sha}))

    rid = "hftop-demo/llama-mini"
    c = HubCommit(
        _sha(rid, 1),
        _files(
            rid,
            {
                "config.json": 700,
                "generation_config.json": 180,
                "model-00001-of-00002.safetensors": 60 * MB,
                "model-00002-of-00002.safetensors": 40 * MB,
                "model.safetensors.index.json": 24_000,
                "tokenizer.json": 1_800_000,
            },
        ),
    )
    repos.append(HubRepo("model", rid, (c,), {"main": c.sha}))

    rid = "hftop-demo/whisper-small"
    c = HubCommit(_sha(rid, 1), _files(rid, {"config.json": 1_900, "model.safetensors": 30 * MB}))
    repos.append(HubRepo("model", rid, (c,), {"main": c.sha}))

    rid = "hftop-demo/vit-huge"
    c = HubCommit(_sha(rid, 1), _files(rid, {"config.json": 800, "model.safetensors": 250 * MB}))
    repos.append(HubRepo("model", rid, (c,), {"main": c.sha}))

    # Not downloaded by the demo: for tests that need a repo the cache does not hold yet.
    rid = "hftop-demo/gpt-micro"
    c = HubCommit(_sha(rid, 1), _files(rid, {"config.json": 600, "model.safetensors": 3 * MB}))
    repos.append(HubRepo("model", rid, (c,), {"main": c.sha}))

    # A file of 128 MiB for the resume tests: a download killed at 90 MiB leaves 38 MiB to fetch.
    rid = "hftop-demo/olmo-resume"
    c = HubCommit(_sha(rid, 1), _files(rid, {"config.json": 640, "model.safetensors": 128 * 2**20}))
    repos.append(HubRepo("model", rid, (c,), {"main": c.sha}))

    # Fetched live by `hftop --demo`, one per state a user meets (the demo sets their faults).
    for rid, size in DEMO_DOWNLOADS.items():
        c = HubCommit(_sha(rid, 1), _files(rid, {"config.json": 650, "model.safetensors": size}))
        repos.append(HubRepo("model", rid, (c,), {"main": c.sha}))

    rid = "hftop-demo/squad-mini"
    c = HubCommit(
        _sha(rid, 1),
        _files(rid, {"README.md": 4_000, "data/train.parquet": 8 * MB, "data/validation.parquet": 2 * MB}),
    )
    repos.append(HubRepo("dataset", rid, (c,), {"main": c.sha}))

    rid = "hftop-demo/chat-space"
    c = HubCommit(_sha(rid, 1), _files(rid, {"app.py": 3_000, "requirements.txt": 60}))
    repos.append(HubRepo("space", rid, (c,), {"main": c.sha}))

    return {(r.repo_type, r.repo_id): r for r in repos}
