"""Verify cached files offline against their own names: a blob is named by its content's hash (the
sha256 for LFS files, the git blob sha1 for small ones), so a corrupted or truncated blob shows
without asking the Hub."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from huggingface_hub import CachedFileInfo

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA1 = re.compile(r"[0-9a-f]{40}")
CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Mismatch:
    file: CachedFileInfo
    algorithm: str
    expected: str
    actual: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    mismatches: tuple[Mismatch, ...]
    unreadable: tuple[tuple[CachedFileInfo, str], ...]
    """Files that could not be read, with the reason."""
    skipped: int
    """Files whose blob is not named by a hash hftop knows (nothing to compare with)."""
    cancelled: bool = False


def verify_files(
    files: Iterable[CachedFileInfo],
    progress: Callable[[int, int], None] = lambda done, total: None,
    cancel: threading.Event | None = None,
) -> VerifyResult:
    """Hash each file's content and compare it with its blob's name. `progress(bytes done, bytes in
    all)` is called as it goes; `cancel` stops it between two chunks."""
    files = list({f.blob_path: f for f in files}.values())  # a blob shared by two paths is read once
    total = sum(f.size_on_disk for f in files)
    done = checked = skipped = 0
    mismatches: list[Mismatch] = []
    unreadable: list[tuple[CachedFileInfo, str]] = []
    for file in files:
        name = file.blob_path.name
        if _SHA256.fullmatch(name):
            algorithm, digest = "sha256", hashlib.sha256()
        elif _SHA1.fullmatch(name):
            algorithm, digest = "git-sha1", hashlib.sha1(f"blob {file.size_on_disk}\0".encode())
        else:
            skipped += 1
            done += file.size_on_disk
            continue
        # Hashed here chunk by chunk rather than with huggingface_hub's sha helpers, which take a
        # whole file at once: the progress bar and cancelling need the chunks.
        try:
            with open(file.blob_path, "rb") as f:
                while chunk := f.read(CHUNK):
                    if cancel is not None and cancel.is_set():
                        return VerifyResult(checked, tuple(mismatches), tuple(unreadable), skipped, cancelled=True)
                    digest.update(chunk)
                    done += len(chunk)
                    progress(done, total)
        except OSError as e:
            unreadable.append((file, e.strerror or str(e)))
            continue
        checked += 1
        actual = digest.hexdigest()
        if actual != name:
            mismatches.append(Mismatch(file, algorithm, name, actual))
    progress(total, total)
    return VerifyResult(checked, tuple(mismatches), tuple(unreadable), skipped)
