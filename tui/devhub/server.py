"""A loopback imitation of the Hugging Face Hub that real huggingface_hub clients download from.

Four HTTP servers, as the Hub has them: the API (resolve, revision, tree, Xet read tokens); a
download origin on another loopback address, to which large files are redirected the way the Hub
redirects LFS files to its CDN (the plain-HTTP path, `HF_HUB_DISABLE_XET=1`); a Xet CAS answering
reconstructions; and xorb storage on a third loopback address, where hf_xet fetches the bytes.
Faults apply to a file on every path its bytes take.
"""

from __future__ import annotations

import atexit
import errno
import json
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .faults import Fault, matching_fault
from .repos import DEMO_DOWNLOADS, HubCommit, HubFile, HubRepo, default_repos
from .xet import XetStore

_TYPE_PREFIX = {"datasets": "dataset", "spaces": "space", "models": "model"}
_CHUNK = 64 * 1024
_CATCH_UP = 0.25
_STORE: XetStore | None = None
_STORE_LOCK = threading.Lock()


def _process_store() -> XetStore:
    """The xorb store the hubs of this process share, in a temporary folder removed at exit."""
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            root = Path(tempfile.mkdtemp(prefix="hftop-devhub-xet-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            _STORE = XetStore(root)
        return _STORE


@dataclass(frozen=True)
class RequestRecord:
    """One request the devhub saw."""

    server: str  # "api", "origin", "cas" or "xorbs"
    method: str
    path: str
    range: str | None
    authorized: bool
    """An Authorization header came, other than the Xet access token this hub handed out."""
    status: int
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: DevHub, role: str) -> None:
        self.hub = hub
        self.role = role
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a killed download) is no error of the hub's; anything else still prints."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

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
                # The Xet token the hub itself handed out is not the user's: only another one counts.
                authorized=self.headers.get("Authorization", "") not in ("", f"Bearer {self.server.hub.xet_token}"),
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
            elif self.server.role == "cas":
                self._cas(path)
            elif self.server.role == "xorbs":
                self._xorbs(path)
            else:
                self._api(path)
        except (ConnectionError, TimeoutError):  # the client went away: reset, broken pipe
            self.close_connection = True
        except OSError as e:
            if e.errno not in (errno.ENOTCONN, errno.EBADF):  # gone while held (a stall, a drop)
                raise
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
        # The HEAD comes before either path of the bytes: only a fault on both paths touches it.
        fault = self.server.hub._fault_for(repo_id, hub_file, "http" if self.command == "GET" else "both")
        if fault is not None and fault.gone:
            self._error(404, "EntryNotFound", f'{file_path} does not exist on "{revision}"', commit.sha)
            return
        if self._injected_status(repo_id, hub_file, fault):
            return
        headers = {"X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if hub_file.is_lfs and self.server.hub.xet is not None:
            xet_hash = self._xet_hash(hub_file)
            if xet_hash is None:
                return
            type_path = f"{repo.repo_type}s/{repo.repo_id}"
            headers["X-Xet-Hash"] = xet_hash
            headers["Link"] = (
                f'<{self.server.hub.endpoint}/api/{type_path}/xet-read-token/{commit.sha}>; rel="xet-auth"'
            )
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
        self._serve(_Body.plain(repo_id, hub_file), headers, fault)

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
            if rest[0] not in ("revision", "tree", "paths-info", "xet-read-token") or len(rest) < 2:
                self._error(404, None, "Not found")
                return
            kind, revision = rest[0], rest[1]
        commit = repo.resolve(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        hub = self.server.hub
        if kind in ("info", "revision"):
            self._json(_repo_info(repo, repo_type, commit))
        elif kind == "xet-read-token":
            if hub.xet is None:
                self._error(404, None, "Xet is off on this hub")
                return
            expires = int(time.time()) + 3600
            headers = {
                "X-Xet-Cas-Url": hub.cas_url,
                "X-Xet-Access-Token": hub.xet_token,
                "X-Xet-Token-Expiration": str(expires),
            }
            self._json({"casUrl": hub.cas_url, "accessToken": hub.xet_token, "exp": expires}, headers=headers)
        elif kind == "tree":
            prefix = "/".join(rest[2:]).strip("/")
            query = parse_qs(urlsplit(self.path).query)
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            entries = _tree(commit, prefix, recursive)
            if self._add_xet_hashes(commit, entries):
                self._json(entries)
        else:  # paths-info
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            wanted = parse_qs(body).get("paths", [])
            if not wanted and body.startswith("{"):
                wanted = json.loads(body).get("paths", [])
            entries = [_file_entry(f) for f in commit.files if f.path in wanted]
            if self._add_xet_hashes(commit, entries):
                self._json(entries)

    # --- Xet --------------------------------------------------------------------------------
    def _xet_hash(self, hub_file: HubFile) -> str | None:
        """The file's xet hash, making its xorbs first if need be; None once a 500 is sent."""
        assert self.server.hub.xet is not None
        try:
            return self.server.hub.xet.file_hash(hub_file)
        except (OSError, RuntimeError, ValueError) as e:
            self._error(500, None, f"devhub could not make the xorbs: {e}")
            return None

    def _add_xet_hashes(self, commit: HubCommit, entries: list[dict[str, Any]]) -> bool:
        """Put `xetHash` on the listed LFS files, as the Hub's tree listing does; False once a 500 is sent."""
        store = self.server.hub.xet
        if store is None:
            return True
        listed = [e for e in entries if e.get("lfs")]
        files = [f for f in (commit.file(e["path"]) for e in listed) if f is not None]
        try:
            hashes = store.ensure(files)
        except (OSError, RuntimeError, ValueError) as e:
            self._error(500, None, f"devhub could not make the xorbs: {e}")
            return False
        for entry, xet_hash in zip(listed, hashes, strict=True):
            entry["xetHash"] = xet_hash
        return True

    def _xet_request(self, hub_file: HubFile | None, missing: str) -> tuple[str, Fault | None] | None:
        """The repo and the fault for a CAS or xorb request of `hub_file`; None once an answer is sent
        (a 404 for a file the hub does not serve, or an injected status)."""
        hub = self.server.hub
        found = hub._by_sha256.get(hub_file.sha256) if hub_file else None
        if hub_file is None or found is None:
            self._error(404, None, missing)
            return None
        fault = hub._fault_for(found[0], hub_file, "xet")
        if self._injected_status(found[0], hub_file, fault):
            return None
        return found[0], fault

    def _cas(self, path: str) -> None:
        # GET /v1/reconstructions/{file hash}; v2 is not served (hf_xet falls back to v1 on a 404).
        hub = self.server.hub
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != "reconstructions" or self.command != "GET":
            self._error(404, None, "Not found")
            return
        if parts[0] != "v1":
            self._error(404, None, "Not found")
            return
        if self.headers.get("Authorization") != f"Bearer {hub.xet_token}":
            self._error(401, None, "Missing or expired Xet token")
            return
        assert hub.xet is not None
        hub_file = hub.xet.file(parts[2])
        served = self._xet_request(hub_file, "No such file")
        if hub_file is None or served is None:
            return
        first, last = 0, hub_file.size - 1
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            a, _, b = range_header[6:].partition("-")
            try:
                first = int(a)
                last = min(int(b), hub_file.size - 1) if b else last
            except ValueError:
                self._error(400, None, "Bad range")
                return
            if first >= hub_file.size:
                self._error(416, None, "Range not satisfiable")
                return
        self._json(hub.xet.reconstruction(parts[2], first, last, hub.xorbs_url))

    def _xorbs(self, path: str) -> None:
        hub = self.server.hub
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "xorbs" or self.command not in ("GET", "HEAD") or hub.xet is None:
            self._error(404, None, "Not found")
            return
        store, xorb = hub.xet, parts[2]
        hub_file = store.xorb_file(xorb)
        served = self._xet_request(hub_file, "No such xorb")
        if hub_file is None or served is None:
            return
        repo_id, fault = served
        size = store.xorb_path(xorb).stat().st_size

        def read(start: int, end: int) -> bytes:
            with open(store.xorb_path(xorb), "rb") as f:
                f.seek(start)
                return f.read(end - start)

        body = _Body(repo_id, hub_file, size, read, lambda offset: store.packed_offset(xorb, offset))
        self._serve(body, {"Accept-Ranges": "bytes"}, fault)

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
        fault = self.server.hub._fault_for(repo_id, hub_file, "http")
        if fault is not None and fault.gone:
            self._error(404, None, "No such object")
            return
        if self._injected_status(repo_id, hub_file, fault):
            return
        self._serve(_Body.plain(repo_id, hub_file), {"ETag": f'"{hub_file.sha256}"', "Accept-Ranges": "bytes"}, fault)

    # --- bodies and faults ----------------------------------------------------------------
    def _injected_status(self, repo_id: str, hub_file: HubFile, fault: Fault | None) -> bool:
        if fault is None or fault.status is None:
            return False
        if not self.server.hub._consume(("status", repo_id, hub_file.path), fault.status_times):
            return False
        self._error(fault.status, None, f"Injected error {fault.status}")
        return True

    def _serve(self, body: _Body, headers: dict[str, str], fault: Fault | None) -> None:
        start, end = 0, body.size
        status = 200
        range_header = None if fault is not None and fault.ignore_range else self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            first, _, last = range_header[6:].partition("-")
            try:
                start = int(first) if first else max(body.size - int(last), 0)
                end = int(last) + 1 if (first and last) else body.size
            except ValueError:
                self._error(416, None, "Bad range")
                return
            if start >= body.size:
                self._error(416, None, "Range not satisfiable")
                return
            end = min(end, body.size)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{body.size}"
        self._record(status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(end - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if self.command == "HEAD":
            return
        self._stream(body, start, end, fault)

    def _stream(self, body: _Body, start: int, end: int, fault: Fault | None) -> None:
        """Send body bytes [start, end), with the fault's file offsets taken to this body's own."""
        hub = self.server.hub
        path = body.hub_file.path
        drop_at = stall_at = tail_at = None
        if fault and fault.drop_after is not None:
            at = body.position(fault.drop_after)
            # A request starting right at the drop point is dropped before its first byte, as a broken
            # edge server does; huggingface_hub's retries then run out instead of creeping forward.
            if start <= at and hub._consume(("drop", body.repo_id, path), fault.drop_times):
                drop_at = at
        if fault and fault.stall_after is not None:
            stall_at = body.position(fault.stall_after)
        if fault and fault.tail_rate is not None:
            tail_at = body.position(body.hub_file.size - int(body.hub_file.size * fault.tail_fraction))
        pos = start
        while pos < end:
            if hub.stopping.is_set():
                self.close_connection = True
                return
            if stall_at is not None and pos >= stall_at:
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
            rate = fault.throttle if fault else None
            if tail_at is not None and pos >= tail_at:
                rate = fault.tail_rate if fault else None
            step = _CHUNK if not rate else max(1024, min(_CHUNK, rate // 20))
            limit = end
            for boundary in (stall_at, drop_at, tail_at):
                if boundary is not None and pos < boundary < limit:
                    limit = boundary
            chunk = body.read(pos, min(pos + step, limit))
            if not chunk:
                break
            if fault and fault.corrupt:
                chunk = bytes(b ^ 0xFF for b in chunk[:16]) + chunk[16:]
            self.wfile.write(chunk)
            pos += len(chunk)
            hub._count_sent((body.repo_id, path, body.transport), len(chunk))
            if rate:
                # One pace for every connection serving this file: hf_xet fetches several xorb
                # ranges at once, and the throttle is the file's. A link's pace is every file's.
                pace = (f"link {id(fault)}", "", rate) if fault and fault.link else (body.repo_id, path, rate)
                delay = hub._pace(pace, len(chunk) / rate)
                if delay > 0:
                    self.wfile.flush()
                    if hub.stopping.wait(delay):
                        self.close_connection = True
                        return
        self.wfile.flush()


@dataclass(frozen=True)
class _Body:
    """What one response streams: a file's bytes (plain HTTP) or a xorb's (Xet)."""

    repo_id: str
    hub_file: HubFile
    size: int
    read: Callable[[int, int], bytes]
    position: Callable[[int], int]
    """The body offset at which the file reaches a given offset (the identity for plain HTTP)."""
    transport: str = "xet"
    """"xet" (a xorb's bytes) or "http" (the file's own)."""

    @classmethod
    def plain(cls, repo_id: str, hub_file: HubFile) -> _Body:
        return cls(repo_id, hub_file, hub_file.size, hub_file.read, lambda offset: offset, "http")


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
    """The loopback hub. `start()` binds its servers; `endpoint` is what clients use as HF_ENDPOINT.

    With `xet` (the default) LFS files are Xet-backed as on the Hub: huggingface_hub with hf_xet
    fetches them from the CAS and xorb storage, and over plain HTTP under `HF_HUB_DISABLE_XET=1`.
    Xorbs are made in `xet_dir`, else in a temporary folder every hub of this process shares (a file's
    xorbs depend on its bytes alone) and that goes when the process ends.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        origin_host: str | None = None,
        repos: dict[tuple[str, str], HubRepo] | None = None,
        xet: bool = True,
        xet_dir: Path | None = None,
        local_cas: bool = False,
    ) -> None:
        self.repos = repos if repos is not None else default_repos()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._counters: dict[tuple[str, str, str], int] = {}
        self._paced: dict[tuple[str, str, int], float] = {}
        self._sent: dict[tuple[str, str, str], int] = {}
        self._requests: list[RequestRecord] = []
        self.xet = (XetStore(xet_dir) if xet_dir else _process_store()) if xet else None
        self.local_cas = local_cas
        """The token route names the xorb store's folder (`local://`) as the CAS: hf_xet reads the xorbs
        from disk, with no socket to watch and no fault on that path (as a writer whose sockets are out of sight)."""
        self.xet_token = "devhub-xet-" + secrets.token_hex(8)
        self._by_sha256 = {
            f.sha256: (repo.repo_id, f)
            for repo in self.repos.values()
            for commit in repo.commits
            for f in commit.files
            if f.is_lfs
        }
        self._api = _Server((host, port), self, "api")
        self._origin = _bind_other("origin", origin_host or "127.0.0.2", host, self)
        self._cas = _Server((host, 0), self, "cas")
        self._xorbs = _bind_other("xorbs", "127.0.0.3", host, self)
        self._servers = (self._api, self._origin, self._cas, self._xorbs)
        self._threads: list[threading.Thread] = []

    @property
    def endpoint(self) -> str:
        return self._api.url

    @property
    def origin_url(self) -> str:
        return self._origin.url

    @property
    def cas_url(self) -> str:
        if self.local_cas and self.xet is not None:
            return f"local://{self.xet.cas_dir}"
        return self._cas.url

    @property
    def xorbs_url(self) -> str:
        return self._xorbs.url

    def start(self) -> DevHub:
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def prepare_xet(self, wait: bool) -> None:
        """Make the xorbs of every Xet file now (`wait`) or in the background, the demo's live downloads
        first; otherwise each file's are made at its first HEAD or tree listing, which then waits for them."""
        if self.xet is None:
            return
        demo = {f for repo_id in DEMO_DOWNLOADS for f in self._files_of(repo_id)}
        lfs = sorted(
            {f for repo in self.repos.values() for c in repo.commits for f in c.files if f.is_lfs},
            key=lambda f: (f not in demo, f.size),
        )
        if wait:
            self.xet.ensure(lfs)
        else:
            self.xet.prepare(lfs, self.stopping)

    def _files_of(self, repo_id: str) -> tuple[HubFile, ...]:
        repo = self.repos.get(("model", repo_id))
        return () if repo is None else tuple(f for c in repo.commits for f in c.files)

    def stop(self) -> None:
        self.stopping.set()
        for server in self._servers:
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

    def _fault_for(self, repo_id: str, hub_file: HubFile, transport: str) -> Fault | None:
        """The fault for a request on `transport` ("http": resolve and origin; "xet": CAS and xorbs)."""
        with self._lock:
            found = matching_fault(self._faults, f"{repo_id}/{hub_file.path}")
        return None if found is None or not found[1].applies_to(transport) else found[1]

    def _pace(self, key: tuple[str, str, int], seconds: float) -> float:
        """Book `seconds` of the link shared by `key`; returns how long to wait before sending more.
        A sender that fell behind (making the bytes takes time too) may catch up for a moment."""
        with self._lock:
            now = time.monotonic()
            free = max(self._paced.get(key, now), now - _CATCH_UP)
            self._paced[key] = free + seconds
            return free + seconds - now

    def _count_sent(self, key: tuple[str, str, str], n: int) -> None:
        with self._lock:
            self._sent[key] = self._sent.get(key, 0) + n

    def bytes_sent(self, repo_id: str, path: str, transport: str) -> int:
        """Body bytes of a file written to clients so far over "xet" (xorb ranges) or "http"."""
        with self._lock:
            return self._sent.get((repo_id, path, transport), 0)

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


def _bind_other(role: str, preferred: str, api_host: str, hub: DevHub) -> _Server:
    # The Hub's CDN and xorb storage are other hosts; 127.0.0.2 and .3 play them where they can be bound.
    candidates = [preferred, api_host] if api_host == "127.0.0.1" else [api_host]
    error: OSError | None = None
    for host in dict.fromkeys(candidates):
        try:
            return _Server((host, 0), hub, role)
        except OSError as e:
            error = e
    assert error is not None
    raise error
