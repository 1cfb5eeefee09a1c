"""Questions to the Hub (or a mirror, or the devhub): the plan of a download, and errors in words."""

from __future__ import annotations

import errno
import functools
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import DatasetInfo, HfApi, KernelInfo, ModelInfo, SpaceInfo
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.hf_api import RepoSibling

from tui.core.download_plan import (
    DownloadPlan,
    DownloadRequest,
    PlannedFile,
    RequestError,
    check_request,
    select_files,
)
from tui.probes.disk import disk_space

HUB_ERRORS = (HfHubHTTPError, httpx2.HTTPError, httpx2.InvalidURL, OSError, ValueError)
"""What asking the Hub can raise for bad answers, the network or a bad address; `InvalidURL` is no
`HTTPError`, and a mirror may redirect to a URL the client refuses."""

PLAN_TIMEOUT = 15.0
"""Seconds the plan's metadata request may take before the endpoint counts as unreachable."""


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_hub_error(error: BaseException, endpoint: str, request: DownloadRequest | None = None) -> str:
    """One or two sentences a user can act on, for an error raised while talking to the Hub."""
    host = _host(endpoint)
    what = f"{request.label}@{request.revision}" if request else "the repo"
    for cause in _causes(error):
        if isinstance(cause, GatedRepoError):
            return f"{what} is gated: accept its terms on the Hub and log in (hf auth login)."
        if isinstance(cause, DisabledRepoError):
            return f"{what} has been disabled on {host}."
        if isinstance(cause, RepositoryNotFoundError):
            named = f"{request.repo_type} {request.repo_id}" if request else "such repo"
            return f"No {named} at {host}: check the id and the type (a private repo needs a login)."
        if isinstance(cause, RevisionNotFoundError):
            named = f"{request.revision!r} in {request.label}" if request else "such revision"
            return f"No revision {named}: check the branch, tag or commit hash."
        if isinstance(cause, EntryNotFoundError) and isinstance(cause, HfHubHTTPError):
            return f"A file of the plan is gone from {what}: plan again."
        if isinstance(cause, httpx2.InvalidURL):
            return f"{host} is not an address the HTTP client accepts ({cause}): check the mirror URL."
        if isinstance(cause, UnicodeError):  # the name lookup's IDNA encoding: an empty or overlong label
            return f"Cannot reach {host}: it is not a host name that can be looked up. Check the mirror address."
        if isinstance(cause, OfflineModeIsEnabled):
            return "HF_HUB_OFFLINE is set: huggingface_hub refuses to reach the network."
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            status = cause.response.status_code
            if status in (401, 403):
                return f"{host} refused access ({status}): log in, or the token lacks access to {what}."
            if status == 429:
                return f"{host} is rate limiting (429): wait a minute and retry."
            if status >= 500:
                return f"{host} failed with {status} {cause.response.reason_phrase}: retry later or switch mirror."
            return f"{host} answered {status} {cause.response.reason_phrase}."
        if isinstance(cause, httpx2.ConnectTimeout):
            return f"Cannot reach {host}: connecting timed out. Check the network or the mirror address."
        if isinstance(cause, httpx2.ConnectError):
            return f"Cannot reach {host}: {_reason(cause)}. Check the network or the mirror address."
        if isinstance(cause, httpx2.TimeoutException):
            return f"{_server(cause, host)} stopped sending data (read timed out, after huggingface_hub's retries)."
        if isinstance(cause, httpx2.RemoteProtocolError):
            return f"{_server(cause, host)} closed the connection mid-file, again after huggingface_hub's retries."
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return "The disk is full: free space in the cache pane, then retry."
        if isinstance(cause, OSError) and cause.errno in (errno.EACCES, errno.EPERM):
            return f"Permission denied: {cause.filename or 'the cache folder'} is not writable."
        if isinstance(cause, OSError) and "Consistency check failed" in str(cause):
            return "The file arrived with the wrong size (a network problem): retry."
        if isinstance(cause, OSError) and "Not enough free disk space" in str(cause):
            return "Not enough free space for this file: free space in the cache pane, then retry."
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no message'}"


def _host(endpoint: str) -> str:
    try:
        netloc = urlsplit(endpoint).netloc
    except ValueError:  # such as an unclosed [ of an IPv6 address
        netloc = ""
    return netloc.rpartition("@")[2] or endpoint


def _server(error: httpx2.HTTPError, fallback: str) -> str:
    """The host the failing request went to: for large files a CDN, not the endpoint."""
    try:
        url = error.request.url
    except RuntimeError:  # httpx raises when the error carries no request
        return fallback
    return f"{url.host}:{url.port}" if url.port else url.host


def _reason(error: BaseException) -> str:
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "resolution" in text:
        return "unknown host name"
    if "unreachable" in text:
        return "network unreachable"
    return str(error).strip() or type(error).__name__


def plan_download(
    request: DownloadRequest,
    *,
    endpoint: str,
    cache_dir: Path,
    token: str | bool | None,
) -> DownloadPlan:
    """Ask the endpoint what the request resolves to, and look at what the cache already holds.

    Raises RequestError with a sentence for the user; never anything else for Hub or network trouble.
    """
    check_request(request)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.repo_info(
            request.repo_id.strip(),
            repo_type=request.repo_type,
            revision=request.revision.strip(),
            files_metadata=True,
            timeout=PLAN_TIMEOUT,
        )
    except HUB_ERRORS as error:
        raise RequestError(describe_hub_error(error, endpoint, request)) from None
    where = f"{request.label}@{request.revision}"
    siblings = {s.rfilename: s for s in _siblings(info)}
    chosen = select_files(sorted(siblings), request.patterns, where)
    blobs = Path(cache_dir) / repo_folder_name(repo_id=request.repo_id.strip(), repo_type=request.repo_type) / "blobs"
    files = []
    for path in chosen:
        sibling = siblings[path]
        etag = (sibling.lfs.sha256 if sibling.lfs else sibling.blob_id) or ""
        files.append(
            PlannedFile(
                path=path,
                size=sibling.size or 0,
                etag=etag,
                cached=bool(etag) and os.path.exists(blobs / etag),
            )
        )
    space = disk_space(Path(cache_dir))
    return DownloadPlan(
        request=request,
        commit=info.sha or "",
        files=tuple(files),
        free_bytes=space.free if space else None,
    )


def _siblings(info: ModelInfo | DatasetInfo | SpaceInfo | KernelInfo) -> list[RepoSibling]:
    """The files of a repo's info; a kernel's info (a repo type hftop never asks for) lists none."""
    return [] if isinstance(info, KernelInfo) else info.siblings or []


LOOKUP_TIMEOUT = 5.0
"""Seconds a lookup of an unknown file's name and size may take; the refresh never waits for it."""


def lookup_blob(endpoint: str, repo_type: str, repo_id: str, revision: str, etag: str) -> tuple[str, int] | None:
    """(path in repo, size) of the file whose blob is `etag`, asked of the endpoint without a token
    (the downloader's endpoint may be a third-party mirror). None when the repo has no such file.

    Raises RequestError with a sentence when the endpoint cannot tell (unreachable, gated, private).
    """
    try:
        info = HfApi(endpoint=endpoint, token=False).repo_info(
            repo_id, repo_type=repo_type, revision=revision, files_metadata=True, timeout=LOOKUP_TIMEOUT
        )
    except HUB_ERRORS as error:
        raise RequestError(describe_hub_error(error, endpoint)) from None
    for sibling in _siblings(info):
        if etag in ((sibling.lfs.sha256 if sibling.lfs else None), sibling.blob_id):
            return sibling.rfilename, int(sibling.size or 0)
    return None


PROBE_REPO = "openai-community/gpt2"
"""Asked of every mirror in the picker: a repo any full mirror of the Hub has. An answer of any kind
(even "not found", as from the demo hub) shows the mirror is up and speaks the Hub's API."""


@dataclass(frozen=True)
class MirrorProbe:
    reachable: bool
    latency: float | None
    """Seconds the metadata request took."""
    message: str


def probe_mirror(url: str, timeout: float = LOOKUP_TIMEOUT) -> MirrorProbe:
    """One metadata request to `url`, without a token, timed."""
    start = time.monotonic()
    try:
        HfApi(endpoint=url, token=False).repo_info(PROBE_REPO, timeout=timeout)
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        took = time.monotonic() - start
        if status is not None and status < 500:
            return MirrorProbe(True, took, f"answers in {took * 1000:.0f} ms")
        return MirrorProbe(False, took, describe_hub_error(error, url))
    except HUB_ERRORS as error:
        return MirrorProbe(False, None, describe_hub_error(error, url))
    took = time.monotonic() - start
    return MirrorProbe(True, took, f"answers in {took * 1000:.0f} ms")


@functools.lru_cache(maxsize=32)
def host_addresses(url: str) -> frozenset[str]:
    """The addresses an endpoint's host name resolves to (empty when it does not resolve)."""
    try:
        host = urlsplit(url).hostname
        if not host:
            return frozenset()
        return frozenset(str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP))
    except (OSError, ValueError):  # ValueError: a bad IPv6 literal; UnicodeError: a label IDNA cannot encode
        return frozenset()
