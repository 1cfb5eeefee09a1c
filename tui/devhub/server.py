"""A loopback imitation of the Hugging Face Hub that real huggingface_hub clients download from.

Two HTTP servers: the API (resolve, revision, tree) and a download origin on another loopback
address, to which large files are redirected the way the Hub redirects LFS files to its CDN.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .faults import Fault, matching_fault
from .repos import HubCommit, HubFile, HubRepo, default_repos

_TYPE_PREFIX = {"datasets": "dataset", "spaces": "space", "models": "model"}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RequestRecord:
    """One request the devhub saw."""

    server: str  # "api" or "origin"
    method: str
    path: str
    range: str | None
    authorized: bool
    status: int
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: DevHub, role: str) -> None:
        self.hub = hub
        self.role = role
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str), host  # bound by (host, port) with a str host: never bytes
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing -------------------------------------------------------------------------
    def _record(self, status: int) -> None:
        self.server.hub._record(
            RequestRecord(
                server=self.server.role,
                method=self.command,
                path=unquote(urlsplit(self.path).path),
                range=self.headers.get("Range"),
                authorized=bool(self.headers.get("Authorization")),
                status=status,
                at=time.time(),
            )
        )

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self._record(status)
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, data: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, code: str | None, message: str, commit: str | None = None) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        if commit:
            headers["X-Repo-Commit"] = commit
        self._json({"error": message}, status, headers)

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            path = urlsplit(self.path).path
            if path.startswith("/_devhub/"):
                self._admin(path)
            elif self.server.role == "origin":
                self._origin(path)
            else:
                self._api(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- admin ----------------------------------------------------------------------------
    def _admin(self, path: str) -> None:
        hub = self.server.hub
        if path == "/_devhub/requests" and self.command == "GET":
            self._json([asdict(r) for r in hub.requests()])
        elif path == "/_devhub/faults" and self.command == "GET":
            self._json({p: f.to_json() for p, f in hub.faults().items()})
        elif path == "/_devhub/faults" and self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                data = json.loads(self.rfile.read(length) or b"{}")
                hub.set_fault(data.get("pattern", "*"), Fault.from_json(data.get("fault", {})))
            except (ValueError, TypeError) as e:
                self._json({"error": str(e)}, 400)
                return
            self._json({"ok": True})
        elif path == "/_devhub/faults" and self.command == "DELETE":
            pattern = parse_qs(urlsplit(self.path).query).get("pattern", [None])[0]
            hub.clear_faults(pattern)
            self._json({"ok": True})
        else:
            self._json({"error": "unknown admin path"}, 404)

    # --- API --------------------------------------------------------------------------------
    def _repo_from_parts(self, parts: list[str]) -> tuple[HubRepo | None, str, str, list[str]]:
        repo_type = "model"
        if parts and parts[0] in ("datasets", "spaces", "models"):
            repo_type = _TYPE_PREFIX[parts[0]]
            parts = parts[1:]
        repo_id = "/".join(parts[:2])
        return self.server.hub.repos.get((repo_type, repo_id)), repo_type, repo_id, parts[2:]

    def _api(self, path: str) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts and parts[0] == "api":
            self._api_call(parts[1:])
            return
        # /{type?}/{org}/{name}/resolve/{revision}/{path...}
        repo, _, repo_id, rest = self._repo_from_parts(parts)
        if len(rest) < 3 or rest[0] != "resolve":
            self._error(404, None, "Not found")
            return
        if self.command not in ("GET", "HEAD"):
            self._error(405, None, "Method not allowed")
            return
        if repo is None:
            self._error(401, "RepoNotFound", f"Repository Not Found for url: {self.path}.")
            return
        revision, file_path = rest[1], "/".join(rest[2:])
        commit = repo.resolve(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        hub_file = commit.file(file_path)
        if hub_file is None:
            self._error(404, "EntryNotFound", f'{file_path} does not exist on "{revision}"', commit.sha)
            return
        fault = self.server.hub._fault_for(repo_id, hub_file)
        if self._injected_status(repo_id, hub_file, fault):
            return
        headers = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if hub_file.is_lfs:
            location = self.server.hub.origin_url + "/lfs/" + hub_file.sha256 + "?name=" + quote(file_path)
            headers.update(
                {
                    "Location": location,
                    "ETag": f'"{hub_file.git_sha1}"',
                    "X-Linked-Etag": f'"{hub_file.sha256}"',
                    "X-Linked-Size": str(hub_file.size),
                }
            )
            self._send(302, b"", headers)
            return
        headers["ETag"] = f'"{hub_file.git_sha1}"'
        self._serve_body(repo_id, hub_file, headers, fault)

    def _api_call(self, parts: list[str]) -> None:
        # /api/{models|datasets|spaces}/{org}/{name}[/revision/{rev} | /tree/{rev}[/path]]
        if not parts or parts[0] not in ("models", "datasets", "spaces"):
            self._error(404, None, "Not found")
            return
        repo, repo_type, repo_id, rest = self._repo_from_parts(parts)
        if repo is None:
            self._error(401, "RepoNotFound", f"Repository Not Found for url: {self.path}.")
            return
        revision = "main"
        kind = "info"
        if rest:
            if rest[0] not in ("revision", "tree", "paths-info") or len(rest) < 2:
                self._error(404, None, "Not found")
                return
            kind, revision = rest[0], rest[1]
        commit = repo.resolve(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        if kind in ("info", "revision"):
            self._json(_repo_info(repo, repo_type, commit))
        elif kind == "tree":
            prefix = "/".join(rest[2:]).strip("/")
            query = parse_qs(urlsplit(self.path).query)
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            self._json(_tree(commit, prefix, recursive))
        else:  # paths-info
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            wanted = parse_qs(body).get("paths", [])
            if not wanted and body.startswith("{"):
                wanted = json.loads(body).get("paths", [])
            self._json([_file_entry(f) for f in commit.files if f.path in wanted])

    # --- download origin ------------------------------------------------------------------
    def _origin(self, path: str) -> None:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "lfs" or self.command not in ("GET", "HEAD"):
            self._error(404, None, "Not found")
            return
        found = self.server.hub._by_sha256.get(parts[1])
        if found is None:
            self._error(404, None, "No such object")
            return
        repo_id, hub_file = found
        fault = self.server.hub._fault_for(repo_id, hub_file)
        if self._injected_status(repo_id, hub_file, fault):
            return
        self._serve_body(repo_id, hub_file, {"ETag": f'"{hub_file.sha256}"', "Accept-Ranges": "bytes"}, fault)

    # --- bodies and faults ----------------------------------------------------------------
    def _injected_status(self, repo_id: str, hub_file: HubFile, fault: Fault | None) -> bool:
        if fault is None or fault.status is None:
            return False
        if not self.server.hub._consume(("status", repo_id, hub_file.path), fault.status_times):
            return False
        self._error(fault.status, None, f"Injected error {fault.status}")
        return True

    def _serve_body(self, repo_id: str, hub_file: HubFile, headers: dict[str, str], fault: Fault | None) -> None:
        start, end = 0, hub_file.size
        status = 200
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            first, _, last = range_header[6:].partition("-")
            try:
                start = int(first) if first else max(hub_file.size - int(last), 0)
                end = int(last) + 1 if (first and last) else hub_file.size
            except ValueError:
                self._error(416, None, "Bad range")
                return
            if start >= hub_file.size:
                self._error(416, None, "Range not satisfiable")
                return
            end = min(end, hub_file.size)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{hub_file.size}"
        self._record(status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(end - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if self.command == "HEAD":
            return
        self._stream(repo_id, hub_file, start, end, fault)

    def _stream(self, repo_id: str, hub_file: HubFile, start: int, end: int, fault: Fault | None) -> None:
        hub = self.server.hub
        drop_at = None
        # A request starting right at the drop point is dropped before its first byte, as a broken
        # edge server does; huggingface_hub's retries then run out instead of creeping forward.
        if fault and fault.drop_after is not None and start <= fault.drop_after:
            if hub._consume(("drop", repo_id, hub_file.path), fault.drop_times):
                drop_at = fault.drop_after
        tail_start = hub_file.size - int(hub_file.size * (fault.tail_fraction if fault else 0))
        pos = start
        began = time.monotonic()
        sent_at_rate = 0
        rate_key = None
        while pos < end:
            if hub.stopping.is_set():
                self.close_connection = True
                return
            if fault and fault.stall_after is not None and pos >= fault.stall_after:
                self.wfile.flush()
                # Hold the connection open, sending nothing, until the client gives up or the hub stops.
                while not hub.stopping.wait(0.25):
                    if _peer_closed(self.connection):
                        break
                self.close_connection = True
                return
            if drop_at is not None and pos >= drop_at:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            rate = None
            if fault:
                rate = fault.throttle
                if fault.tail_rate is not None and pos >= tail_start:
                    rate = fault.tail_rate
            if rate != rate_key:  # rate changed (entering the tail): restart the pacing clock
                rate_key, began, sent_at_rate = rate, time.monotonic(), 0
            step = _CHUNK if not rate else max(1024, min(_CHUNK, rate // 20))
            limit = end
            for boundary in (
                fault.stall_after if fault else None,
                drop_at,
                tail_start if fault and fault.tail_rate else None,
            ):
                if boundary is not None and pos < boundary < limit:
                    limit = boundary
            chunk = hub_file.read(pos, min(pos + step, limit))
            if fault and fault.corrupt:
                chunk = bytes(b ^ 0xFF for b in chunk[:16]) + chunk[16:]
            self.wfile.write(chunk)
            pos += len(chunk)
            sent_at_rate += len(chunk)
            if rate:
                delay = began + sent_at_rate / rate - time.monotonic()
                if delay > 0:
                    self.wfile.flush()
                    if hub.stopping.wait(delay):
                        self.close_connection = True
                        return
        self.wfile.flush()


def _peer_closed(sock: socket.socket) -> bool:
    try:
        sock.setblocking(False)
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        finally:
            sock.setblocking(True)
    except BlockingIOError:
        return False
    except OSError:
        return True


def _file_entry(f: HubFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "path": f.path, "size": f.size, "oid": f.git_sha1}
    if f.is_lfs:
        entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
    return entry


def _sibling(f: HubFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"rfilename": f.path, "size": f.size, "blobId": f.git_sha1}
    if f.is_lfs:
        entry["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
    return entry


def _tree(commit: HubCommit, prefix: str, recursive: bool) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    folders: set[str] = set()
    for f in commit.files:
        if prefix and not f.path.startswith(prefix + "/"):
            continue
        rel = f.path[len(prefix) + 1 :] if prefix else f.path
        dirs = rel.split("/")[:-1]
        for i in range(1, len(dirs) + 1):
            folder = "/".join(filter(None, [prefix, *dirs[:i]]))
            if (recursive or i == 1) and folder not in folders:
                folders.add(folder)
                entries.append({"type": "directory", "path": folder, "oid": "0" * 40})
        if recursive or not dirs:
            entries.append(_file_entry(f))
    return entries


def _repo_info(repo: HubRepo, repo_type: str, commit: HubCommit) -> dict[str, Any]:
    return {
        "id": repo.repo_id,
        "_id": repo.repo_id,
        "sha": commit.sha,
        "private": False,
        "disabled": False,
        "gated": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        # Sizes and LFS details as the Hub sends them with `?blobs=true` (`repo_info(files_metadata=True)`).
        "siblings": [_sibling(f) for f in commit.files],
        "lastModified": "2026-01-01T00:00:00.000Z",
        "createdAt": "2026-01-01T00:00:00.000Z",
        **({"sdk": "gradio"} if repo_type == "space" else {}),
    }


class DevHub:
    """The loopback hub. `start()` binds both servers; `endpoint` is what clients use as HF_ENDPOINT."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        origin_host: str | None = None,
        repos: dict[tuple[str, str], HubRepo] | None = None,
    ) -> None:
        self.repos = repos if repos is not None else default_repos()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._counters: dict[tuple[str, str, str], int] = {}
        self._requests: list[RequestRecord] = []
        self._by_sha256 = {
            f.sha256: (repo.repo_id, f)
            for repo in self.repos.values()
            for commit in repo.commits
            for f in commit.files
            if f.is_lfs
        }
        self._api = _Server((host, port), self, "api")
        self._origin = _bind_origin(origin_host, host, self)
        self._threads: list[threading.Thread] = []

    @property
    def endpoint(self) -> str:
        return self._api.url

    @property
    def origin_url(self) -> str:
        return self._origin.url

    def start(self) -> DevHub:
        for server in (self._api, self._origin):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server in (self._api, self._origin):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> DevHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults and records ---------------------------------------------------------------
    def set_fault(self, pattern: str, fault: Fault) -> None:
        """Apply `fault` to files whose `repo_id/path` matches `pattern`; counters start afresh."""
        with self._lock:
            self._faults[pattern] = fault
            self._counters.clear()

    def clear_faults(self, pattern: str | None = None) -> None:
        """Remove the fault set for `pattern`, or every fault."""
        with self._lock:
            if pattern is None:
                self._faults.clear()
                self._counters.clear()
            else:
                self._faults.pop(pattern, None)

    def faults(self) -> dict[str, Fault]:
        with self._lock:
            return dict(self._faults)

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)
            del self._requests[:-10_000]

    def _fault_for(self, repo_id: str, hub_file: HubFile) -> Fault | None:
        with self._lock:
            found = matching_fault(self._faults, f"{repo_id}/{hub_file.path}")
        return None if found is None else found[1]

    def _consume(self, key: tuple[str, str, str], times: int) -> bool:
        """True for the first `times` calls with this key."""
        with self._lock:
            used = self._counters.get(key, 0)
            if used >= times:
                return False
            self._counters[key] = used + 1
            return True

    # --- lookups for tests and the demo ---------------------------------------------------
    def file(self, repo_id: str, path: str, revision: str = "main", repo_type: str = "model") -> HubFile:
        repo = self.repos[(repo_type, repo_id)]
        commit = repo.resolve(revision)
        assert commit is not None, revision
        found = commit.file(path)
        assert found is not None, path
        return found


def _bind_origin(origin_host: str | None, api_host: str, hub: DevHub) -> _Server:
    # The Hub sends large files to a CDN on another host; 127.0.0.2 plays that part where it can be bound.
    candidates = [origin_host] if origin_host else (["127.0.0.2", api_host] if api_host == "127.0.0.1" else [api_host])
    error: OSError | None = None
    for host in candidates:
        try:
            return _Server((host, 0), hub, "origin")
        except OSError as e:
            error = e
    assert error is not None
    raise error
