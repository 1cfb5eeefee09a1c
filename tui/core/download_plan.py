"""What the user asked to download, and the plan: which files, how many bytes, whether they fit."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from huggingface_hub.utils import (
    HFValidationError,
    filter_repo_objects,
    validate_repo_id,
)

from tui.core.formatting import size

REPO_TYPES = ("model", "dataset", "space")
OFFICIAL_HOSTS = frozenset({"huggingface.co", "hf.co"})

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class DownloadRequest:
    """A download as the user asked for it (the add dialog, or the demo)."""

    repo_id: str
    repo_type: str = "model"
    revision: str = "main"
    patterns: tuple[str, ...] = ()
    """File names or include patterns; empty for the whole repo."""
    disable_xet: bool = False
    """Download over plain HTTP even where the repo is on Xet (`HF_HUB_DISABLE_XET=1`)."""
    read_timeout: int | None = None
    """`HF_HUB_DOWNLOAD_TIMEOUT` for the child; None leaves huggingface_hub's 10 s."""

    @property
    def label(self) -> str:
        """`org/name`, with the type in front for datasets and spaces."""
        return self.repo_id if self.repo_type == "model" else f"{self.repo_type}s/{self.repo_id}"


class RequestError(ValueError):
    """The request cannot be planned; the message says why in words."""


def parse_patterns(text: str) -> tuple[str, ...]:
    """`"*.json, model.safetensors"` → ("*.json", "model.safetensors"); commas or spaces separate."""
    return tuple(p for p in re.split(r"[,\s]+", text.strip()) if p)


def check_request(request: DownloadRequest) -> None:
    """Raise RequestError for input that can be refused without asking the Hub."""
    repo_id = request.repo_id.strip()
    if not repo_id:
        raise RequestError("Enter a repo id, for example openai-community/gpt2.")
    if request.repo_type not in REPO_TYPES:
        raise RequestError(f"Unknown repo type {request.repo_type!r}: use model, dataset or space.")
    for prefix in ("models/", "datasets/", "spaces/"):
        if repo_id.startswith(prefix):
            raise RequestError(f"Leave {prefix!r} out of the repo id and choose the type instead.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise RequestError(f"{repo_id!r} is not a repo id: {error}") from None
    if not request.revision.strip():
        raise RequestError("Enter a revision: a branch, a tag or a commit hash (main by default).")


@dataclass(frozen=True)
class PlannedFile:
    """One file of the plan."""

    path: str
    size: int
    etag: str
    """The blob's name in the cache: the LFS sha256, or the git blob id of a small file."""
    cached: bool
    """Its blob is already in the cache: nothing to fetch but the snapshot link."""


@dataclass(frozen=True)
class DownloadPlan:
    """The files a request resolves to at one commit, and the room for them."""

    request: DownloadRequest
    commit: str
    files: tuple[PlannedFile, ...]
    free_bytes: int | None
    """Free space where the cache lives; None when it could not be read."""

    @property
    def bytes_total(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def to_fetch(self) -> tuple[PlannedFile, ...]:
        return tuple(f for f in self.files if not f.cached)

    @property
    def bytes_to_fetch(self) -> int:
        return sum(f.size for f in self.to_fetch)

    @property
    def fits(self) -> bool:
        """Room for every byte to fetch (unknown free space counts as room)."""
        return self.free_bytes is None or self.bytes_to_fetch <= self.free_bytes


def select_files(paths: Iterable[str], patterns: tuple[str, ...], where: str) -> list[str]:
    """The repo files the patterns pick, with huggingface_hub's own matching (`allow_patterns`).

    A name without wildcards must exist, so a typo is an error rather than an empty plan.
    """
    paths = list(paths)
    if not patterns:
        return paths
    for pattern in patterns:
        if not _GLOB.search(pattern) and not pattern.endswith("/") and pattern not in paths:
            close = [p for p in paths if p.endswith("/" + pattern) or pattern.lower() in p.lower()][:3]
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise RequestError(f"No file {pattern!r} in {where}.{hint}")
    chosen = list(filter_repo_objects(paths, allow_patterns=list(patterns)))
    if not chosen:
        raise RequestError(f"No file in {where} matches {' '.join(patterns)}.")
    return chosen


def is_official_endpoint(endpoint: str) -> bool:
    """True for huggingface.co over https: the only place a token is sent to by default."""
    parts = urlsplit(endpoint)
    return parts.scheme == "https" and (parts.hostname or "") in OFFICIAL_HOSTS


def plan_summary(plan: DownloadPlan) -> str:
    """`3 files, 14.6 MB to fetch (1 already cached) · 120 GB free`."""
    cached = len(plan.files) - len(plan.to_fetch)
    text = f"{len(plan.files)} file{'s' if len(plan.files) != 1 else ''}, {size(plan.bytes_to_fetch)} to fetch"
    if cached:
        text += f" ({cached} already cached)"
    if plan.free_bytes is not None:
        text += f" · {size(plan.free_bytes)} free"
    return text
