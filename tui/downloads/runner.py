"""The child process of one download hftop starts: `python -m tui.downloads.runner ...`.

It fetches the planned files one after another with `hf_hub_download` and reports on stdout,
one JSON object a line: `file` (starting a file), `transport` (Xet or plain HTTP, as huggingface_hub
chose for it), `progress` (bytes of the current file written),
`received` (bytes read from the network so far), `file_done`, then `done`, `failed` (with the
error in words) or `cancelled`.

Plain HTTP writes in 10 MiB steps, so `progress` alone says nothing for minutes on a slow link;
`received` counts the body bytes as they arrive, which is what tells slow from stalled.
SIGTERM and the owner's death become KeyboardInterrupt, so huggingface_hub's own cleanup
removes the partial file (and aborts a Xet transfer) before the process exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
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


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


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
    parser.add_argument("--no-token", action="store_true", help="send no Authorization header")
    parser.add_argument("--owner-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
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
        request = DownloadRequest(args.repo_id, args.repo_type, args.ref or args.revision)
        emit("started", pid=os.getpid())
        if args.ref and args.ref != args.revision:
            try:
                _record_ref(args)
            except OSError as error:
                emit("failed", message=describe_hub_error(error, args.endpoint, request))
                return 1
        for index, path in enumerate(args.files):
            emit("file", path=path, index=index)
            try:
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
                emit("failed", path=path, message=describe_hub_error(error, args.endpoint, request))
                return 1
            emit("file_done", path=path)
        emit("done")
        return 0
    except KeyboardInterrupt:
        emit("cancelled")
        return 130


if __name__ == "__main__":
    sys.exit(main())
