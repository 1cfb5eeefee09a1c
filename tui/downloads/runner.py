"""The child process of one download hftop starts: `python -m tui.downloads.runner ...`.

It fetches the planned files one after another with `hf_hub_download` and reports on stdout,
one JSON object a line: `file` (starting a file), `transport` (Xet or plain HTTP, as huggingface_hub
chose for it), `progress` (bytes of the current file written),
`received` (bytes read from the network so far), `range` (a request for the rest of a file, from
`start`: a retry or a resume), `kept` (a second name for a partial file, so its
bytes outlive a failure), `resumed` (a file continues from a partial's bytes), `file_done`, then
`done`, `failed` (with the error in words; `fresh` when only a fresh download can go on) or `cancelled`.

Plain HTTP writes in 10 MiB steps, so `progress` alone says nothing for minutes on a slow link;
`received` counts the body bytes as they arrive, which is what tells slow from stalled.
SIGTERM and the owner's death become KeyboardInterrupt, so huggingface_hub's own cleanup
removes the partial file (and aborts a Xet transfer) before the process exits. SIGUSR1 stops the
same way but keeps the bytes: every partial file the process writes has a hard link beside it
(made as soon as the file appears), which huggingface_hub's cleanup does not touch. A file with a
partial of its blob in the cache (a kept one, or one a dead program left) is resumed from it with
a `Range` request instead of fetched from 0, and checked against its hash before it is placed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Literal, NoReturn

PROGRESS_INTERVAL = 0.25
"""Seconds between two progress lines for the same file."""


_EMIT = threading.Lock()  # the main thread and the byte reporter both write lines


def emit(event: str, **fields: object) -> None:
    line = json.dumps({"event": event, **fields}) + "\n"
    with _EMIT:
        sys.stdout.write(line)
        sys.stdout.flush()


class NetworkCounter:
    """Body bytes received so far by this process (HTTP and Xet), reported every PROGRESS_INTERVAL.

    hf_xet's reporter counts a term's bytes only once the whole term has arrived (16 MiB and more), so
    from the first Xet file on, the process's own TCP sockets are read too (once a second), and the
    larger of the two counts is reported: a Xet transfer's bytes show as they arrive.
    """

    def __init__(self) -> None:
        self.total = 0
        self._sockets_from: int | None = None
        """`total` when the sockets began to be read (the first Xet file)."""
        self._seen: dict[int, int] = {}
        self._on_sockets = 0

    def add(self, n: int) -> None:
        self.total += n

    def watch_sockets(self) -> None:
        if self._sockets_from is None:
            self._seen = self._socket_bytes()
            self._sockets_from = self.total

    def _socket_bytes(self) -> dict[int, int]:
        from tui.probes.partials import process_socket_bytes

        return process_socket_bytes(os.getpid())

    def _read_sockets(self) -> int:
        """Bytes all of this process's connections received since the sockets began to be read,
        those that opened since counted whole."""
        now = self._socket_bytes()
        self._on_sockets += sum(max(0, n - self._seen.get(inode, 0)) for inode, n in now.items())
        self._seen = now
        return self._on_sockets

    def report_forever(self) -> None:
        reported, ticks, best = -1, 0, 0
        while True:
            time.sleep(PROGRESS_INTERVAL)
            ticks += 1
            if self._sockets_from is not None and ticks % SOCKET_TICKS == 0:
                best = max(best, self._sockets_from + self._read_sockets())
            best = max(best, self.total)
            if best != reported:
                reported = best
                emit("received", bytes=reported)


SOCKET_TICKS = 4
"""Progress intervals between two reads of the process's sockets."""


RECEIVED = NetworkCounter()


def count_http_bytes() -> None:
    """Make huggingface_hub's HTTP client count body bytes as they come off the socket."""
    import httpx2
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import hf_request_event_hook

    class CountingStream(httpx2.SyncByteStream):
        def __init__(self, inner: httpx2.SyncByteStream) -> None:
            self._inner = inner

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                RECEIVED.add(len(chunk))
                yield chunk

        def close(self) -> None:
            self._inner.close()

    class CountingTransport(httpx2.HTTPTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            # A request for the rest of a file (huggingface_hub's retry from its last write step, or a
            # resume): where its bytes start in the file, and the count they add to.
            wanted = request.headers.get("range", "")
            if request.method == "GET" and wanted.startswith("bytes=") and wanted.endswith("-"):
                start = wanted[len("bytes=") : -1]
                if start.isdigit():
                    emit("range", start=int(start), received=RECEIVED.total)
            response = super().handle_request(request)
            assert isinstance(response.stream, httpx2.SyncByteStream)  # a sync transport answers with a sync stream
            response.stream = CountingStream(response.stream)
            return response

    # The same client as huggingface_hub's default_client_factory, but with a counting transport.
    set_client_factory(
        lambda: httpx2.Client(
            event_hooks={"request": [hf_request_event_hook]},
            follow_redirects=True,
            timeout=None,
            transport=CountingTransport(),
        )
    )


class ProgressReport:
    """Stands in for tqdm in `hf_hub_download(tqdm_class=...)` and reports bytes as JSON lines.

    Not a tqdm subclass: huggingface_hub then passes no `disable`, and a pipe would turn tqdm off.
    """

    def __init__(self, *args: Any, total: int | None = None, initial: int | None = 0, **kwargs: Any) -> None:
        # Only huggingface_hub's Xet reporter passes a bar format; its transfer bytes bypass the
        # HTTP client. http_get reports the same bytes the counting transport already counted.
        self._counts_transfer = "bar_format" in kwargs
        emit("transport", name="Xet" if self._counts_transfer else "plain HTTP")
        if self._counts_transfer:
            RECEIVED.watch_sockets()
        self.n = initial or 0
        self.total = total
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        self._report()

    def update_transfer(self, n: int = 1) -> None:
        if self._counts_transfer:
            RECEIVED.add(n)

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            emit("progress", bytes=self.n, received=RECEIVED.total)

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    set_transfer_postfix_str = set_postfix_str

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        self._report(force=True)

    def __enter__(self) -> ProgressReport:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.close()
        return False


class KeptBytes:
    """Hard links to the partial files this process writes: the bytes stay when huggingface_hub
    deletes its own name for them (on a failure or a cancel)."""

    def __init__(self, cache_dir: str) -> None:
        self._blobs_under = os.path.realpath(cache_dir) + os.sep
        self._links: dict[str, str] = {}
        """partial file huggingface_hub writes → the link kept beside it."""
        self.keep_on_stop = False
        self.resuming: set[str] = set()
        """Partial files this process resumes itself: their bytes are not huggingface_hub's to delete."""
        self._lock = threading.Lock()

    def watch_forever(self) -> None:
        while True:
            time.sleep(PROGRESS_INTERVAL)
            self.link_new()

    def link_new(self) -> None:
        from pathlib import Path

        from tui.actions.resume import keep_link

        for target in self._open_partials():
            with self._lock:
                if target in self._links or target in self._links.values() or target in self.resuming:
                    continue
                try:
                    link = str(keep_link(Path(target)))
                except OSError:
                    continue  # renamed into place or deleted meanwhile
                self._links[target] = link
            emit("kept", path=link, partial=target)

    def _open_partials(self) -> list[str]:
        found: list[str] = []
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:
            return found
        for fd in fds:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.endswith(".incomplete") and target.startswith(self._blobs_under) and "/blobs/" in target:
                found.append(target)
        return found

    def mark(self, why: str, message: str = "") -> None:
        """Mark the bytes kept as the download ends ("cancelled" or "failed", with why): from outside, they
        are a download hftop stopped, not a dead writer's orphan."""
        from pathlib import Path

        from tui.actions.resume import mark_kept

        with self._lock:
            kept = set(self._links.values()) | self.resuming
        for path in kept:
            mark_kept(Path(path), why, message)

    def drop(self) -> None:
        """Remove every link: the user let the bytes go."""
        self._drop(lambda partial: True)

    def drop_placed(self) -> None:
        """Remove the links of partial files huggingface_hub has renamed into place."""
        self._drop(lambda partial: not os.path.exists(partial))

    def _drop(self, which: Callable[[str], bool]) -> None:
        with self._lock:
            for partial, link in list(self._links.items()):
                if which(partial):
                    try:
                        os.unlink(link)
                    except OSError:
                        pass
                    del self._links[partial]


KEPT: KeptBytes | None = None


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    if signum == signal.SIGUSR1 and KEPT is not None:
        KEPT.keep_on_stop = True
    raise KeyboardInterrupt


def _resume_if_kept(args: argparse.Namespace, path: str, etag: str) -> Literal["placed", "fetch", "failed"]:
    """Continue `path` from the largest partial of its blob in the cache, if there is one ("placed" once it is).
    Without one (or only empty ones), or when its lock is held (another process fetches it),
    huggingface_hub fetches the file ("fetch"). A resume that fails says why in a `failed` line
    ("failed"), with `fresh` when only a fresh download can go on (ranges ignored, a changed file, a
    failed hash)."""
    from pathlib import Path

    from huggingface_hub.file_download import repo_folder_name

    from tui.actions.resume import Resumable, ResumeFailed, drop_empty, partials_of, resume

    folder = Path(args.cache_dir) / repo_folder_name(repo_id=args.repo_id, repo_type=args.repo_type)
    found = partials_of(folder, etag)
    if found and found[0].stat().st_size == 0:  # a stopped download that wrote nothing: no bytes to reuse
        drop_empty(Path(args.cache_dir), found, etag)
        return "fetch"
    if not found:
        return "fetch"
    if args.fresh:
        for stale in found:  # the user asked for the file afresh: its old bytes go
            stale.unlink(missing_ok=True)
        return "fetch"
    target = Resumable(Path(args.cache_dir), found[0], args.repo_type, args.repo_id, etag, path, args.revision)
    if KEPT is not None:
        KEPT.resuming.add(os.path.realpath(found[0]))
    emit("kept", path=str(found[0]), partial=str(found[0]))  # this download's bytes now, whoever wrote them
    emit("transport", name="plain HTTP")

    def started(reused: int, size: int) -> None:
        emit("resumed", path=path, bytes=reused, size=size)
        emit("progress", bytes=reused, received=RECEIVED.total)

    last = [0.0]

    def progress(have: int, size: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL or have >= size:
            last[0] = now
            emit("progress", bytes=have, received=RECEIVED.total)

    try:
        resume(
            target,
            endpoint=args.endpoint,
            token=False if args.no_token else None,
            ref=args.ref,
            on_progress=progress,
            on_start=started,
        )
    except ResumeFailed as error:
        if error.lock_held:
            return "fetch"
        emit("failed", path=path, message=str(error), fresh=error.fresh)
        if KEPT is not None:
            KEPT.mark("failed", str(error))
        return "failed"
    return "placed"


def _record_ref(args: argparse.Namespace) -> None:
    """Point `refs/<ref>` at the commit before fetching by hash, as snapshot_download does.

    Written here because huggingface_hub's helper for it is private; the layout is the cache's own.
    """
    from huggingface_hub.file_download import repo_folder_name

    refs = os.path.join(args.cache_dir, repo_folder_name(repo_id=args.repo_id, repo_type=args.repo_type), "refs")
    path = os.path.join(refs, *args.ref.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(args.revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.downloads.runner")
    parser.add_argument("--repo-id", required=True)
    parser.add_argument("--repo-type", default="model")
    parser.add_argument("--revision", default="main", help="the commit hash the plan resolved")
    parser.add_argument("--ref", help="the branch or tag the user asked for, recorded in refs/")
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--file", action="append", default=[], dest="files")
    parser.add_argument(
        "--etag", action="append", default=[], dest="etags", help="each file's blob name, in --file's order"
    )
    parser.add_argument("--fresh", action="store_true", help="delete the files' old partials instead of resuming")
    parser.add_argument("--no-token", action="store_true", help="send no Authorization header")
    parser.add_argument("--owner-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)

    global KEPT
    KEPT = KeptBytes(args.cache_dir)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGUSR1, _interrupt)
    if args.owner_pid:
        from tui.probes.owner import when_owner_dies

        when_owner_dies(args.owner_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))

    # Imported after the signal handlers: importing huggingface_hub takes a while, and a cancel
    # during it must still end cleanly.
    try:
        from huggingface_hub import hf_hub_download

        from tui.core.download_plan import DownloadRequest
        from tui.probes.hub import describe_hub_error

        count_http_bytes()
        threading.Thread(target=RECEIVED.report_forever, daemon=True).start()
        threading.Thread(target=KEPT.watch_forever, daemon=True).start()
        request = DownloadRequest(args.repo_id, args.repo_type, args.ref or args.revision)
        emit("started", pid=os.getpid())
        if args.ref and args.ref != args.revision:
            try:
                _record_ref(args)
            except OSError as error:
                emit("failed", message=describe_hub_error(error, args.endpoint, request))
                return 1
        etags = args.etags + [""] * (len(args.files) - len(args.etags))
        for index, (path, etag) in enumerate(zip(args.files, etags, strict=True)):
            emit("file", path=path, index=index)
            try:
                resumed = _resume_if_kept(args, path, etag) if etag else "fetch"
                if resumed == "failed":
                    return 1
                if resumed == "placed":
                    emit("file_done", path=path)
                    continue
                hf_hub_download(
                    args.repo_id,
                    path,
                    repo_type=args.repo_type,
                    revision=args.revision,
                    cache_dir=args.cache_dir,
                    endpoint=args.endpoint,
                    token=False if args.no_token else None,
                    tqdm_class=ProgressReport,
                )
            except KeyboardInterrupt:
                raise
            except Exception as error:  # noqa: BLE001 - every failure is reported in words
                # The exception itself goes to stderr for whoever reads the process's output.
                print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
                message = describe_hub_error(error, args.endpoint, request)
                emit("failed", path=path, message=message)
                KEPT.mark("failed", message)
                return 1
            KEPT.drop_placed()
            emit("file_done", path=path)
        emit("done")
        return 0
    except KeyboardInterrupt:
        if KEPT.keep_on_stop:
            KEPT.mark("cancelled")
        else:
            KEPT.drop()
        emit("cancelled", kept=KEPT.keep_on_stop)
        return 130


if __name__ == "__main__":
    sys.exit(main())
