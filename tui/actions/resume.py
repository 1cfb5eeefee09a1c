"""Resume a partial download from the bytes it already has, and place it in the cache as huggingface_hub would.

huggingface_hub never reuses a partial file across runs. hftop can, safely, because a blob's name is its content
hash: the partial's bytes are kept, the rest comes with a `Range` request to the file's resolve URL (the Hub's
file servers honour it for LFS and Xet-backed files alike), and the whole file is hashed before an atomic rename
into `blobs/<etag>`. A file that fails the check is never placed; its partial is left as it was.

The placing itself uses huggingface_hub's own helpers (permissions, the shared blob store, the snapshot link),
so the result is what `hf_hub_download` would have left: run again, it finds the file cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from filelock import Timeout
from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.file_download import (
    _cache_commit_hash_for_specific_revision,
    _chmod_and_move,
    _create_symlink,
    are_symlinks_supported,
)
from huggingface_hub.utils import WeakFileLock, build_hf_headers, get_session
from huggingface_hub.utils._shared_blobs import publish_blob_to_shared_store, shared_blobs_enabled

from tui.core import formatting as fmt
from tui.core.download_plan import DownloadRequest, RequestError
from tui.probes.hub import HUB_ERRORS, describe_hub_error, lookup_blob
from tui.probes.partials import KEPT_ATTRIBUTE, lock_path, names_by_etag

CHUNK = 1 << 20
TIMEOUT = 30.0
"""Seconds to wait for the server's answer, or between two reads of the body."""
LOCK_WAIT = 1.0
"""Seconds to try for the file's lock before saying who holds it."""
_SUFFIX = ".incomplete"


class ResumeFailed(Exception):
    """The file could not be resumed; the message says why in words.

    `fresh`: a fresh download is the way on (the server ignores ranges, the file changed, the bytes were
    wrong); otherwise resuming again later may work (a lost connection, a held lock, a file gone upstream)."""

    def __init__(self, message: str, *, fresh: bool = False, lock_held: bool = False) -> None:
        super().__init__(message)
        self.fresh = fresh
        self.lock_held = lock_held
        """Another process holds the blob's lock: it is downloading the file now."""


@dataclass(frozen=True)
class Resumable:
    """A partial file and the repo file it is the start of."""

    cache_dir: Path
    partial: Path
    repo_type: str
    repo_id: str
    etag: str
    file_name: str
    commit: str
    size: int | None = None
    """The file's size, when known before asking the endpoint."""

    @property
    def repo_folder(self) -> Path:
        return self.partial.parent.parent

    @property
    def label(self) -> str:
        return f"{self.repo_id} {self.file_name}"


@dataclass(frozen=True)
class Resumed:
    pointer: Path
    """`snapshots/<commit>/<file>`: what `hf_hub_download` returns for it from now on."""
    reused: int
    """Bytes kept from the partial file."""
    fetched: int
    """Bytes asked of the endpoint."""
    shared: bool
    """Placed in the shared blob store, with the repo's blob a link into it."""


Progress = Callable[[int, int], None]
"""Called with (bytes of the file now on disk, the file's size) as the body arrives."""


def partial_parts(path: Path) -> tuple[str, str, str]:
    """(repo type, repo id, etag) of `<cache>/<type>s--<org>--<name>/blobs/<etag>[.<hex>].incomplete`.

    Raises ResumeFailed for anything else, a `local_dir` download's partial included."""
    if path.name.endswith(_SUFFIX) and path.parent.name == "download" and path.parent.parent.name == "huggingface":
        raise ResumeFailed(
            f"{path} is a local_dir download's partial file: hftop resumes files of the Hub cache only. "
            "Run the download again with the same local_dir."
        )
    if not path.name.endswith(_SUFFIX) or path.parent.name != "blobs":
        raise ResumeFailed(f"{path} is not a partial download file (<repo folder>/blobs/<etag>….incomplete).")
    kind, _, rest = path.parent.parent.name.partition("--")
    types = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
    if kind not in types or "--" not in rest:
        raise ResumeFailed(f"{path} does not sit in a repo folder of a Hub cache (models--org--name).")
    return types[kind], rest.replace("--", "/"), path.name[: -len(_SUFFIX)].split(".")[0]


def identify(cache_dir: Path, partial: Path, endpoint: str) -> Resumable:
    """Which repo file `partial` is the start of: from the tree listings in the cache, else asked of `endpoint`
    at each commit the repo's refs point to."""
    repo_type, repo_id, etag = partial_parts(partial)
    folder = partial.parent.parent
    known = names_by_etag(folder).get(etag)
    if known is not None:
        name, size, commit = known
        return Resumable(cache_dir, partial, repo_type, repo_id, etag, name, commit, size or None)
    commits = _ref_commits(folder)
    if not commits:
        raise ResumeFailed(
            f"Nothing in the cache says which commit {partial.name} belongs to (no refs/ in {folder.name})."
        )
    for commit in commits:
        try:
            found = lookup_blob(endpoint, repo_type, repo_id, commit, etag)
        except RequestError as error:
            raise ResumeFailed(f"Could not ask {endpoint} which file {partial.name} is: {error}") from None
        if found is not None:
            return Resumable(cache_dir, partial, repo_type, repo_id, etag, found[0], commit, found[1] or None)
    raise ResumeFailed(
        f"{endpoint} lists no file with the blob {etag[:12]}… in {repo_id} at {', '.join(c[:8] for c in commits)}: "
        "the file is gone upstream, or the partial is of another endpoint's repo.",
        fresh=True,
    )


def _ref_commits(folder: Path) -> list[str]:
    commits = []
    for ref in sorted((folder / "refs").rglob("*")):
        try:
            commit = ref.read_text().strip() if ref.is_file() else ""
        except OSError:
            continue
        if len(commit) == 40 and commit not in commits:
            commits.append(commit)
    return commits


def partials_of(repo_folder: Path, etag: str) -> list[Path]:
    """The partial files of one blob in a repo folder, largest first (real files, no links)."""
    found = []
    for path in (repo_folder / "blobs").glob(f"{etag}.*{_SUFFIX}"):
        if path.name.split(".")[0] == etag and not path.is_symlink() and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.stat().st_size, reverse=True)


def drop_empty(cache_dir: Path, partials: list[Path], etag: str) -> None:
    """Delete the empty partial files of one blob (a stopped download that wrote nothing), unless a process
    holds the blob's lock: it may be the one about to write them."""
    if not partials:
        return
    lock = lock_path(cache_dir, partials[0], etag)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        with WeakFileLock(lock, timeout=1):
            for partial in partials:
                if partial.stat().st_size == 0:
                    partial.unlink(missing_ok=True)
    except (Timeout, OSError):
        pass


def keep_link(partial: Path) -> Path:
    """A second name for a partial file that a live download writes (a hard link beside it, named as
    huggingface_hub names its own), so its bytes outlive the download's cleanup."""
    etag = partial.name.split(".")[0]
    link = partial.with_name(f"{etag}.{uuid.uuid4().hex[:8]}{_SUFFIX}")
    os.link(partial, link)
    return link


def mark_kept(partial: Path, why: str, message: str = "") -> None:
    """Leave hftop's mark on a partial file whose bytes its download keeps as it ends ("cancelled" or
    "failed", with why in words): hftop doctor, or the dashboard started again, then tells it from a dead
    writer's orphan. Where the filesystem keeps no extended attributes, the file stays unmarked."""
    data = json.dumps({"why": why, "at": time.time(), "message": message[:1000]})
    try:
        os.setxattr(partial, KEPT_ATTRIBUTE, data.encode())
    except OSError:
        pass


def clear_kept_mark(partial: Path) -> None:
    """The file is a live download's again: its mark goes."""
    try:
        os.removexattr(partial, KEPT_ATTRIBUTE)
    except OSError:
        pass


def resume(
    target: Resumable,
    *,
    endpoint: str,
    token: str | bool | None,
    ref: str | None = None,
    on_progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> Resumed:
    """Fetch the rest of `target` from `endpoint`, check it and place it; under the blob's lock, as
    huggingface_hub takes it, so a huggingface_hub process started meanwhile waits instead of racing.

    `ref`: the branch or tag to point at the commit in `refs/`, as a download of that ref would.
    `on_start(reused, size)` is called once the request is answered. Raises ResumeFailed."""
    lock = lock_path(target.cache_dir, target.partial, target.etag)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        with WeakFileLock(lock, timeout=LOCK_WAIT):
            return _resume_locked(target, endpoint, token, ref, on_progress, on_start)
    except Timeout:
        raise ResumeFailed(
            f"Another process holds the lock of {target.label} ({lock}): it is downloading the file now.",
            lock_held=True,
        ) from None


def _resume_locked(
    target: Resumable,
    endpoint: str,
    token: str | bool | None,
    ref: str | None,
    on_progress: Progress | None,
    on_start: Callable[[int, int], None] | None,
) -> Resumed:
    folder = target.repo_folder
    blob = folder / "blobs" / target.etag
    pointer = folder / "snapshots" / target.commit / Path(*target.file_name.split("/"))
    if not target.partial.is_file():
        raise ResumeFailed(f"The partial file {target.partial} is gone.")
    clear_kept_mark(target.partial)  # a live download's again
    if os.path.lexists(blob):  # another download finished it meanwhile: the partial is of no use
        _link(folder, target, blob, pointer, ref, shared=blob.is_symlink())
        target.partial.unlink(missing_ok=True)
        return Resumed(pointer, 0, 0, blob.is_symlink())
    url = hf_hub_url(
        target.repo_id, target.file_name, repo_type=target.repo_type, revision=target.commit, endpoint=endpoint
    )
    request = DownloadRequest(target.repo_id, target.repo_type, target.commit)
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=TIMEOUT, endpoint=endpoint)
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
        raise ResumeFailed(
            f"{endpoint} has no {target.file_name} in {target.repo_id} at {target.commit[:8]} any more (404): "
            "the file is gone upstream. Nothing was changed."
        ) from None
    except HUB_ERRORS as error:
        raise ResumeFailed(describe_hub_error(error, endpoint, request)) from None
    if meta.etag != target.etag:
        raise ResumeFailed(
            f"{target.file_name} changed: {endpoint} now serves blob {str(meta.etag)[:12]}… for it, the partial holds "
            f"the start of {target.etag[:12]}…. Nothing was changed; download it afresh.",
            fresh=True,
        )
    size = meta.size if meta.size is not None else target.size
    if size is None:
        raise ResumeFailed(
            f"{endpoint} does not say how large {target.file_name} is: it cannot be resumed.", fresh=True
        )
    start = target.partial.stat().st_size
    if start > size:
        raise ResumeFailed(
            f"The partial file holds {fmt.size(start)}, more than the whole file ({fmt.size(size)}): its bytes are "
            "not this file's. Nothing was placed; download it afresh.",
            fresh=True,
        )
    digest = _content_hash(target.etag)
    with open(target.partial, "r+b") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
        if start < size:
            _fetch_rest(f, url, target, endpoint, token, start, size, digest, on_progress, on_start)
        elif on_start is not None:
            on_start(start, size)
        if digest.hexdigest() != _expected_hash(target.etag):
            f.truncate(start)  # the partial goes back to what it was: nothing the user had is lost
            raise ResumeFailed(
                f"The resumed {target.file_name} fails its check: its {_hash_name(target.etag)} is "
                f"{digest.hexdigest()[:12]}…, not {target.etag[:12]}… as its blob name says, so the partial's "
                f"{fmt.size(start)} were not this file's. Nothing was placed in the cache and the partial is as it "
                "was; download the file afresh.",
                fresh=True,
            )
    _chmod_and_move(target.partial, blob)
    for other in partials_of(folder, target.etag):
        if os.path.samefile(other, blob):  # a second name of the same bytes (a killed download's and hftop's)
            other.unlink()
    shared = False
    xet_hash = meta.xet_file_data.file_hash if meta.xet_file_data is not None else None
    if xet_hash and shared_blobs_enabled() and are_symlinks_supported(target.cache_dir):
        # The content is checked against the file's sha256, so the blob may join the shared store
        # under the Xet hash the endpoint gives for it, where huggingface_hub puts Xet downloads.
        shared = publish_blob_to_shared_store(
            blob_path=str(blob), xet_hash=xet_hash, cache_dir=target.cache_dir, expected_size=size
        )
    _link(folder, target, blob, pointer, ref, shared)
    return Resumed(pointer, start, size - start, shared)


def _fetch_rest(
    f: Any,
    url: str,
    target: Resumable,
    endpoint: str,
    token: str | bool | None,
    start: int,
    size: int,
    digest: Any,
    on_progress: Progress | None,
    on_start: Callable[[int, int], None] | None,
) -> None:
    """Append bytes [start, size) from `url` to `f`, feeding `digest`. A connection that closes mid-file is
    asked again from where it stopped, up to DROPS times, as huggingface_hub does within one download."""
    position, drops = start, 0
    f.seek(start)
    f.truncate(start)

    def answered() -> None:
        if position == start and drops == 0 and on_start is not None:
            on_start(start, size)

    while True:
        try:
            host, position = _fetch_from(f, url, target, token, position, size, digest, on_progress, answered)
        except httpx2.TimeoutException:
            f.flush()
            raise ResumeFailed(
                f"{httpx2.URL(url).host} sent nothing for {TIMEOUT:g} s. The partial file keeps {fmt.size(position)} "
                f"of {fmt.size(size)}: resume again later, or from another mirror."
            ) from None
        except (httpx2.HTTPError, httpx2.InvalidURL, OSError) as error:
            f.flush()
            request = DownloadRequest(target.repo_id, target.repo_type, target.commit)
            raise ResumeFailed(
                f"{describe_hub_error(error, endpoint, request)} The partial file keeps {fmt.size(position)}: "
                "resume again."
            ) from None
        f.flush()
        if position >= size:
            return
        drops += 1
        if drops > DROPS:
            raise ResumeFailed(
                f"{host} closed the connection {drops} times; the partial file keeps {fmt.size(position)} of "
                f"{fmt.size(size)}: resume again."
            )


DROPS = 5
"""Connections that may close mid-file before the resume gives up."""


def _fetch_from(
    f: Any,
    url: str,
    target: Resumable,
    token: str | bool | None,
    position: int,
    size: int,
    digest: Any,
    on_progress: Progress | None,
    on_answer: Callable[[], None],
) -> tuple[str, int]:
    """One ranged request from `position`: (the server that sent the bytes, the position it got to)."""
    headers = build_hf_headers(token=token)
    headers["Range"] = f"bytes={position}-"
    headers["Accept-Encoding"] = "identity"
    with get_session().stream("GET", url, headers=headers, timeout=TIMEOUT, follow_redirects=True) as response:
        host = f"{response.url.host}:{response.url.port}" if response.url.port else str(response.url.host)
        if response.status_code == 404:
            raise ResumeFailed(f"{host} answers 404 for {target.file_name}: the file is gone upstream.")
        if response.status_code == 200:
            raise ResumeFailed(
                f"{host} ignored the Range request: it answered 200 with the whole file instead of the bytes "
                f"from {fmt.size(position)} on. Nothing was placed; download the file afresh.",
                fresh=True,
            )
        if response.status_code != 206:
            response.read()
            raise ResumeFailed(
                f"{host} answered {response.status_code} {response.reason_phrase} to the Range request for "
                f"{target.file_name}."
            )
        first, total = _content_range(response.headers.get("Content-Range", ""))
        if first != position or (total is not None and total != size):
            raise ResumeFailed(
                f"{host} sent other bytes than asked ({response.headers.get('Content-Range')!r} for "
                f"bytes={position}-). Nothing was placed; download the file afresh.",
                fresh=True,
            )
        on_answer()
        try:
            for block in response.iter_bytes(CHUNK):
                block = block[: size - position]
                f.write(block)
                digest.update(block)
                position += len(block)
                if on_progress is not None:
                    on_progress(position, size)
                if position >= size:
                    break
        except (httpx2.RemoteProtocolError, httpx2.ReadError):
            pass  # closed mid-file: the caller asks again from `position`
    return host, position


def _link(folder: Path, target: Resumable, blob: Path, pointer: Path, ref: str | None, shared: bool) -> None:
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if ref and ref != target.commit:
        _cache_commit_hash_for_specific_revision(str(folder), ref, target.commit)
    if not os.path.lexists(pointer):
        _create_symlink(str(blob), str(pointer), new_blob=not shared)


def _content_range(value: str) -> tuple[int | None, int | None]:
    """(first byte, total size) of `bytes 100-199/1000`; None for what it does not say."""
    unit, _, spec = value.strip().partition(" ")
    span, _, total = spec.partition("/")
    first = span.partition("-")[0]
    if unit != "bytes" or not first.isdigit():
        return None, None
    return int(first), int(total) if total.isdigit() else None


def _content_hash(etag: str) -> Any:
    """sha256 for an LFS file (a 64-hex etag); git's blob sha1 for the others (fed its header on the first
    update, which needs the size: see _GitBlob)."""
    return hashlib.sha256() if len(etag) == 64 else _GitBlob()


def _expected_hash(etag: str) -> str:
    return etag.lower()


def _hash_name(etag: str) -> str:
    return "sha256" if len(etag) == 64 else "git blob sha1"


class _GitBlob:
    """git's object id of a blob: sha1 of `blob <size>\\0` and the content. The size is known only at the end,
    so the content is kept (files without LFS are small: git keeps large ones in LFS)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def update(self, data: bytes) -> None:
        self._parts.append(bytes(data))

    def hexdigest(self) -> str:
        content = b"".join(self._parts)
        return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
