"""Other programs' downloads (and what dead ones left): partial files watched over time."""

from __future__ import annotations

import os
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

import psutil

from tui.core import formatting as fmt
from tui.core.downloads import (
    SOCKET_SLACK,
    WRITE_STEP,
    CpuUse,
    DownloadState,
    ExternalDownload,
    FileShare,
    PartialProgressTracker,
    PartialReading,
    SocketSample,
    lock_wait_progress,
    share_out,
)
from tui.core.xet_fetches import XetTurn, xet_turns
from tui.probes.hub import lookup_blob
from tui.probes.lockwait import LockWatcher
from tui.probes.partials import (
    PartialFile,
    PartialFinder,
    find_local_dir_partials,
    lock_path,
    owner_process,
)
from tui.probes.xetlog import XetLogFollower, XetLogReading, read_xet_log, xet_cache_dir
from tui.settings import default_endpoint

FIRST_LOOKUP_WAIT = 0.5
"""Seconds a look waits for the endpoint to name a file it sees for the first time."""

LOCAL_DIR_SWEEP = 5.0
"""Seconds between two looks through every process's open files for `local_dir` downloads
(while none is known; a known one is looked at every sample)."""


ENDED_KEEP = 600.0
"""Seconds a download whose file went without a blob in its place stays listed as failed."""


class OtherDownloads:
    """Each `sample()` looks at the cache's partial files once; speed and stalls come from the
    samples before it. Not thread-safe: one caller at a time (the app's worker, or `hftop doctor`).

    Names and sizes that no tree listing gives are asked of the downloader's endpoint in a
    background thread; a sample never waits for the network.
    """

    def __init__(
        self, cache_dir: Path, stall_after: float, local_dirs: bool = True, endpoint: str | None = None
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.endpoint = endpoint
        """Where a dead writer's file is asked about (its name, its size): hftop's endpoint; None: HF_ENDPOINT's."""
        self.stall_after = stall_after
        self.local_dirs = local_dirs
        """Also `local_dir` downloads anywhere on the machine (outside the cache)."""
        self._known: dict[str, tuple[str | None, int | None, str | None]] = {}
        """Partial file → (name, size, commit) once known: a process that dies keeps its file's name."""
        self._tracker = PartialProgressTracker()
        self._finder = PartialFinder()
        self._locks = LockWatcher(self.cache_dir)
        self._waits_seen: dict[tuple[str, int], float] = {}
        self._local: tuple[PartialFile, ...] = ()
        self._local_swept = float("-inf")
        self._lookups: dict[tuple[str, str, str, str], Future[tuple[str, int, str | None] | None]] = {}
        self._lookup_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hftop-lookup")
        self._environ: dict[int, dict[str, str]] = {}
        self._cpu_seen: dict[tuple[int, str], tuple[float, float | None, float]] = {}
        """(Writer, "" for the whole process or "Xet" for hf_xet's threads) → (ran, waited, when) at the last look."""
        self._ties: dict[str, int] = {}
        """Partial file → the socket found to carry it alone, in a process that writes several."""
        self._socket_bytes: dict[int, dict[int, int]] = {}
        """Writer → socket → bytes received at the last look."""
        self._shared_net: dict[str, int] = {}
        """Partial file → the bytes it was given of its process's sockets so far."""
        self._xet_logs = XetLogFollower()

        self._received: dict[int, tuple[int, dict[int, int]]] = {}
        """Writer of one file → (bytes received since first seen, socket → bytes at the last look)."""
        self._openings: dict[tuple[str, int], tuple[int, int]] = {}
        """(Partial file, socket) → (its bytes on disk, the socket's bytes) when the socket was first seen."""
        self._before: dict[str, ExternalDownload] = {}
        """Partial file → its row at the last sample."""
        self._ended: dict[str, tuple[float, ExternalDownload, int, float | None]] = {}
        """Partial file → (when, its failed row, its writer's pid and start): a live writer's file that went
        with no blob in its place."""
        self.in_cache: tuple[int, int] = (0, 0)
        """Partial files in the cache at the last sample, hftop's own included, and their bytes on disk."""

    def close(self) -> None:
        self._locks.close()
        self._finder.close()
        self._lookup_pool.shutdown(wait=False, cancel_futures=True)

    def wait_for_lookups(self, timeout: float) -> None:
        """Give the endpoint lookups under way up to `timeout` seconds to answer."""
        wait(list(self._lookups.values()), timeout=timeout)

    def sample(
        self, now: float, exclude_pids: Collection[int] = (), exclude_paths: Collection[str] = ()
    ) -> tuple[ExternalDownload, ...]:
        """Partial files not written by `exclude_pids` (hftop's own download processes) nor kept by them
        (`exclude_paths`), and processes waiting for the lock of a file another process is fetching, as of
        `now` (wall clock)."""
        exclude, kept = set(exclude_pids), set(exclude_paths)
        in_cache = self._finder.find(self.cache_dir)
        self.in_cache = (len(in_cache), sum(p.real_bytes for p in in_cache))
        partials = [*in_cache, *(self._local_dir_partials(now) if self.local_dirs else ())]
        partials = [p for p in partials if not {o.pid for o in p.owners} & exclude and str(p.path) not in kept]
        asked = len(self._lookups)
        partials = [self._with_lookup(p) for p in partials]
        if len(self._lookups) > asked:  # a new file: its name and size, at the first look if it can be
            wait([f for f in self._lookups.values() if not f.done()], timeout=FIRST_LOOKUP_WAIT)
            partials = [self._with_lookup(p) for p in partials]
        partials = [self._remembered(p) for p in partials]
        present = {str(p.path) for p in partials}
        self._known = {k: v for k, v in self._known.items() if k in present}
        xet = {p.owners[0].pid: self._xet_log(p.owners[0].pid) for p in partials if p.owners}
        transport = {pid: self._transport(pid, log) for pid, log in xet.items()}
        writers = {o.pid: o for p in partials for o in p.owners[:1]}
        seconds = {(pid, ""): (o.cpu_seconds, o.cpu_wait_seconds) for pid, o in writers.items()}
        # A Xet writer's work is its hf_xet threads': the program around them may be busy with its own.
        seconds |= {(pid, XET): o.xet_cpu for pid, o in writers.items() if o.xet_cpu and transport[pid][0] == XET}
        cpu = self._cpu_use(seconds, now)
        work = {pid: cpu.get((pid, XET), cpu.get((pid, ""))) for pid in writers}
        pooled = {pid: log for pid, log in xet.items() if log is not None and transport[pid][0] == XET}
        shared = self._share_sockets(partials, pooled)
        received = self._count_received(partials)
        positions = self._positions(partials, plain={pid for pid, (how, _) in transport.items() if how != XET})
        readings = {
            str(p.path): PartialReading(
                p.real_bytes,
                p.expected_size,
                alive=bool(p.owners),
                modified=p.modified,
                net_bytes=(received.get(p.owners[0].pid, p.net_bytes) if p.owners else p.net_bytes)
                if (share := shared.get(str(p.path))) is None
                else share[0],
                net_idle=p.net_idle if share is None else share[1].idle,
                sharing=1 if share is None else share[1].sharing,
                process_receiving=share is not None and share[1].tied_to is None and share[1].process_received > 0,
                turn=None if share is None else share[1].turn,
                position=positions.get(str(p.path)),
                connections=p.connections,
                free_bytes=p.free_bytes,
                hidden_owner=p.lock_holder is not None and not p.owners and not p.taken_over,
                taken_over_by=p.lock_holder if p.taken_over else None,
                started=p.owners[0].started if p.owners else None,
                stopped=bool(p.owners) and p.owners[0].status in ("stopped", "tracing-stop"),
                writer=p.owners[0].pid if p.owners else None,
                xet=bool(p.owners) and transport[p.owners[0].pid][0] == XET,
                cpu=work.get(p.owners[0].pid) if p.owners else None,
                kept=p.kept,
            )
            for p in partials
        }
        progress = self._tracker.observe(now, readings, self.stall_after)
        downloads = [
            ExternalDownload(
                key=str(p.path),
                repo_type=p.repo_type,
                repo_id=p.repo_id,
                etag=p.etag,
                file_name=p.file_name,
                commit=p.commit,
                owner_pid=p.owners[0].pid if p.owners else None,
                owner_command=p.owners[0].command if p.owners else None,
                owner_status=p.owners[0].status if p.owners else None,
                owner_remotes=p.owners[0].remotes if p.owners else (),
                lock_holder=p.lock_holder,
                progress=progress[str(p.path)],
                notes=(_xet_notes(xet.get(p.owners[0].pid), now) if p.owners else ()) + self._unnamed(p),
                owner_started=p.owners[0].started if p.owners else None,
                owner_cpu=100 * use.ran if p.owners and (use := cpu.get((p.owners[0].pid, ""))) else None,
                transport=transport[p.owners[0].pid] if p.owners else None,
                kept=p.kept,
            )
            for p in partials
        ]
        waiting = self._waiting(partials, downloads, now, exclude)
        fetching = {(str(p.path.parent), p.etag) for p in in_cache} | {(str(Path(k).parent), _etag(k)) for k in kept}
        return (*downloads, *waiting, *self._failed(downloads, now, fetching))

    def _failed(
        self, downloads: list[ExternalDownload], now: float, fetching: set[tuple[str, str]]
    ) -> list[ExternalDownload]:
        """Rows for files that went since the last sample while their writer lived, with no blob in their
        place: huggingface_hub deletes its partial file when a download fails or is interrupted. `fetching`:
        (blobs folder, etag) of every partial file in the cache, hftop's own included, and of what hftop keeps."""
        present = {d.key for d in downloads}
        for key, before in self._before.items():
            if (
                key in present
                or key in self._ended
                or before.owner_pid is None
                or before.repo_type == "local"
                or Path(key).exists()  # still there, only no longer listed as another program's
                or (str(Path(key).parent), before.etag) in fetching  # hftop took it over
                or (Path(key).parent / before.etag).exists()  # it was placed: done
            ):
                continue
            self._ended[key] = (now, _failed_row(before), before.owner_pid, before.owner_started)
        self._ended = {
            k: (when, row, pid, started)
            for k, (when, row, pid, started) in self._ended.items()
            if now - when < ENDED_KEEP
            and (str(Path(k).parent), row.etag) not in fetching  # fetched again, by hftop or another program
            and not (Path(k).parent / row.etag).exists()  # it is in the cache now, fetched by anyone
        }
        self._before = {d.key: d for d in downloads}
        return [  # its last progress keeps ageing; its writer is looked at anew (it exits after it deletes the file)
            replace(
                row,
                progress=replace(
                    row.progress,
                    quiet_for=row.progress.quiet_for + now - when,
                    evidence=(*row.progress.evidence, _writer_after(pid, started)),
                ),
            )
            for when, row, pid, started in self._ended.values()
        ]

    def _local_dir_partials(self, now: float) -> tuple[PartialFile, ...]:
        if self._local or now - self._local_swept >= LOCAL_DIR_SWEEP:
            self._local_swept = now
            self._local = find_local_dir_partials()
        return self._local

    def _waiting(
        self, partials: list[PartialFile], downloads: list[ExternalDownload], now: float, exclude: set[int]
    ) -> list[ExternalDownload]:
        """Rows for processes waiting on the lock of a blob another process is fetching."""
        holders, by_lock = {}, {}
        for p, d in zip(partials, downloads, strict=True):
            if p.repo_type != "local" and p.lock_holder and not p.taken_over:
                lock = str(lock_path(self.cache_dir, p.path, p.etag))
                holders[lock], by_lock[lock] = p.lock_holder, (p, d)
        waits = self._locks.look(holders, exclude) if holders else {}
        rows, seen = [], {}
        for lock, pids in waits.items():
            p, holder = by_lock[lock]
            for pid in sorted(pids - exclude):
                first = seen[(lock, pid)] = self._waits_seen.get((lock, pid), now)
                waiter = owner_process(pid)
                if waiter is None:
                    continue
                # The waiter's row is the holder's file with the waiter as its process.
                rows.append(
                    replace(
                        holder,
                        key=f"{lock}#{pid}",
                        owner_pid=pid,
                        owner_command=waiter.command,
                        owner_status=waiter.status,
                        owner_remotes=(),
                        owner_started=waiter.started,
                        owner_cpu=None,
                        lock_holder=holders[lock],
                        notes=(),
                        transport=None,  # it fetches nothing yet: the holder's transport is not its own
                        waiting_for=holders[lock],
                        progress=lock_wait_progress(
                            first_seen=first,
                            now=now,
                            expected_size=p.expected_size,
                            holder_pid=holders[lock],
                            holder_command=holder.owner_command,
                            holder=holder,
                        ),
                    )
                )
        self._waits_seen = seen
        return rows

    def _share_sockets(
        self, partials: list[PartialFile], pooled: dict[int, XetLogReading]
    ) -> dict[str, tuple[int, FileShare]]:
        """For processes writing several files at once: each file's bytes so far and its share. `pooled`:
        the writers hf_xet runs in, and their logs, which say what hf_xet fetches now."""
        by_writer: dict[int, list[PartialFile]] = {}
        for p in partials:
            if p.owners and p.shared_sockets:
                by_writer.setdefault(p.owners[0].pid, []).append(p)
        result: dict[str, tuple[int, FileShare]] = {}
        socket_bytes = {}
        for pid, files in by_writer.items():
            sockets = [SocketSample(s.inode, s.bytes_received, s.idle_ms / 1000) for s in files[0].shared_sockets]
            real = {str(p.path): p.real_bytes for p in files}
            before = self._socket_bytes.get(pid)
            turns = self._xet_turns(pooled[pid], files) if pid in pooled else None
            for key, share in share_out(real, sockets, self._ties, before, pooled=pid in pooled, turns=turns).items():
                self._shared_net[key] = self._shared_net.get(key, 0) + share.received
                result[key] = (self._shared_net[key], share)
            socket_bytes[pid] = {s.inode: s.bytes_received for s in sockets}
        self._socket_bytes = socket_bytes
        self._ties = {key: share.tied_to for key, (_, share) in result.items() if share.tied_to is not None}
        self._shared_net = {key: total for key, total in self._shared_net.items() if key in result}
        self._xet_logs.forget_others({pooled[pid].path for pid in by_writer if pid in pooled})
        return result

    def _xet_turns(self, log: XetLogReading, files: list[PartialFile]) -> dict[str, XetTurn] | None:
        """Each of a Xet writer's files' terms under way, keyed by partial file; None when its log names no
        term block (its bytes are shared evenly then)."""
        queue = self._xet_logs.queue(log.path)
        if queue is None:
            return None
        turns = xet_turns(queue, {p.path.name: p.real_bytes for p in files})
        return {str(p.path): turns[p.path.name] for p in files}

    def _count_received(self, partials: list[PartialFile]) -> dict[int, int]:
        """For processes writing one file: bytes received since first seen, across connections that
        close and open between looks (hf_xet fetches each term on a pooled connection of several)."""
        totals: dict[int, int] = {}
        counters: dict[int, dict[int, int]] = {}
        for p in partials:
            if not p.owners or not p.sockets or p.shared_sockets or p.owners[0].pid in totals:
                continue
            pid = p.owners[0].pid
            now_bytes = {s.inode: s.bytes_received for s in p.sockets}
            before = self._received.get(pid)
            if before is None:
                totals[pid] = sum(now_bytes.values())
            else:
                totals[pid] = before[0] + sum(max(0, n - before[1].get(i, 0)) for i, n in now_bytes.items())
            counters[pid] = now_bytes
        self._received = {pid: (totals[pid], counters[pid]) for pid in totals}
        return totals

    def _positions(self, partials: list[PartialFile], plain: Collection[int]) -> dict[str, int]:
        """For a plain-HTTP writer of one file: how far into the file its connections got. huggingface_hub
        asks for the file from its bytes on disk, so a connection first seen holding less than one write
        step (nothing of it written yet) got as far as the file's size then plus all it received; one that
        gets more than a step ahead of the file carries something else. A retry that brings again bytes
        an earlier connection brought gets no further than it did."""
        positions: dict[str, int] = {}
        openings: dict[tuple[str, int], tuple[int, int]] = {}
        for p in partials:
            if not p.owners or not p.sockets or p.shared_sockets or p.owners[0].pid not in plain:
                continue
            key = str(p.path)
            reached = []
            for s in p.sockets:
                opening = openings[key, s.inode] = self._openings.get((key, s.inode), (p.real_bytes, s.bytes_received))
                on_disk, received = opening
                got = on_disk + s.bytes_received  # headers too: a few hundred bytes
                # More than a step ahead of the file: not this file's (a connection for something else).
                if received < WRITE_STEP and got - p.real_bytes < WRITE_STEP + SOCKET_SLACK:
                    reached.append(got)
            if reached:
                furthest = max(p.real_bytes, *reached)
                positions[key] = furthest if p.expected_size is None else min(furthest, p.expected_size)
        self._openings = openings
        return positions

    def _transport(self, pid: int, log: XetLogReading | None) -> tuple[str, str]:
        """How the process fetches (Xet or plain HTTP), and how hftop knows."""
        if self._owner_environ(pid).get("HF_HUB_DISABLE_XET", "").upper() in ("1", "ON", "YES", "TRUE"):
            return PLAIN_HTTP, "HF_HUB_DISABLE_XET is set in its environment"
        if log is not None:
            return XET, f"hf_xet runs in it and logs to {log.path.name}"
        return PLAIN_HTTP, "hf_xet does not run in it (no hf_xet log for its pid)"

    def _remembered(self, p: PartialFile) -> PartialFile:
        """What was known of the file before fills what this look could not tell (its writer died)."""
        key = str(p.path)
        name, size, commit = self._known.get(key, (None, None, None))
        p = replace(p, file_name=p.file_name or name, expected_size=p.expected_size or size, commit=p.commit or commit)
        self._known[key] = (p.file_name, p.expected_size, p.commit)
        return p

    def _with_lookup(self, p: PartialFile) -> PartialFile:
        """The partial with the name and size the endpoint gave, once it answered."""
        known = self._known.get(str(p.path))
        if p.expected_size is not None or p.repo_type == "local" or (known is not None and known[1] is not None):
            return p
        key = self._lookup_key(p)
        future = self._lookups.get(key)
        if future is None:
            revision = p.commit or _ref_commit(p.path.parent.parent) or "main"
            future = self._lookups[key] = self._lookup_pool.submit(
                _lookup, key[0], p.repo_type, p.repo_id, revision, p.etag
            )
        found = future.result() if future.done() and future.exception() is None else None
        if found is None:
            return p
        name, size, commit = found
        return replace(p, file_name=p.file_name or name, expected_size=size, commit=p.commit or commit)

    def _lookup_key(self, p: PartialFile) -> tuple[str, str, str, str]:
        """(endpoint, repo type, repo, blob) its name is asked with: the writer's endpoint (its HF_ENDPOINT);
        for a dead writer's file, hftop's own."""
        if p.owners:
            endpoint = default_endpoint(self._owner_environ(p.owners[0].pid))
        else:
            endpoint = self.endpoint or default_endpoint(dict(os.environ))
        return endpoint, p.repo_type, p.repo_id, p.etag

    def _unnamed(self, p: PartialFile) -> tuple[str, ...]:
        """Why a file has no name, once its endpoint was asked and could not tell."""
        if p.file_name is not None or p.repo_type == "local":
            return ()
        key = self._lookup_key(p)
        future = self._lookups.get(key)
        if future is None or not future.done():
            return ()
        error = future.exception()
        if error is None and future.result() is not None:
            return ()
        why = str(error) if error is not None else f"{p.repo_id} there has no file with this blob"
        elsewhere = "" if p.owners else " (--endpoint URL asks another)"
        return (f"its name and size are unknown: asked of {key[0]}: {why.rstrip('.')}{elsewhere}",)

    def _owner_environ(self, pid: int) -> dict[str, str]:
        if pid not in self._environ:
            try:
                self._environ[pid] = psutil.Process(pid).environ()
            except (psutil.Error, OSError):
                self._environ[pid] = {}
        return self._environ[pid]

    def _xet_log(self, pid: int) -> XetLogReading | None:
        return read_xet_log(xet_cache_dir(self._owner_environ(pid)), pid)

    def _cpu_use(
        self, seconds: dict[tuple[int, str], tuple[float | None, float | None]], now: float
    ) -> dict[tuple[int, str], CpuUse]:
        """Each process's (or its hf_xet threads') (CPU time, time waiting for a CPU) since the last sample,
        in shares of one core."""
        use = {}
        for key, (ran, waited) in seconds.items():
            before = self._cpu_seen.get(key)
            if ran is not None and before is not None and now > before[2]:
                span = now - before[2]
                wait = None if waited is None or before[1] is None else max(0.0, waited - before[1]) / span
                use[key] = CpuUse(
                    max(0.0, ran - before[0]) / span, wait, "hf_xet's threads" if key[1] else "its threads"
                )
        self._cpu_seen = {key: (ran, waited, now) for key, (ran, waited) in seconds.items() if ran is not None}
        return use


XET = "Xet"
PLAIN_HTTP = "plain HTTP"


def _xet_notes(log: XetLogReading | None, now: float) -> tuple[str, ...]:
    if log is None:
        return ()
    notes = (
        [] if log.last_entry is None else [f"hf_xet log: last entry {fmt.duration(max(0.0, now - log.last_entry))} ago"]
    )
    if log.last_problem:
        notes.append(f"hf_xet: {log.last_problem}")
    return tuple(notes)


def _etag(path: str) -> str:
    """The etag in a partial file's name: `<etag>.incomplete`, `<etag>.<8 hex>.incomplete`."""
    return Path(path).name.split(".")[0]


def _failed_row(before: ExternalDownload) -> ExternalDownload:
    p = before.progress
    at = fmt.size(p.done) + (f" of {fmt.size(p.expected_size)}" if p.expected_size else "")
    evidence = (
        f"it ended at {at}: its partial file went, with no blob in its place",
        "huggingface_hub deletes its partial file when a download fails or is interrupted (a full disk, dropped "
        "connections, a server error, Ctrl+C); the program's own output says which",
        f"last seen {p.state.value}" + (f": {p.evidence[0]}" if p.evidence else ""),
    )
    return replace(
        before,
        owner_pid=None,
        owner_status=None,
        owner_remotes=(),
        owner_cpu=None,
        lock_holder=None,
        notes=(),
        progress=replace(p, state=DownloadState.FAILED, evidence=evidence, rate=None, eta=None),
    )


def _writer_after(pid: int, started: float | None) -> str:
    """What became of the process that wrote a file that went: the same process (pid and start) still alive?"""
    try:
        process = psutil.Process(pid)
        goes_on = process.status() != psutil.STATUS_ZOMBIE and (
            started is None or abs(process.create_time() - started) < 1
        )
    except psutil.Error:
        goes_on = False
    return f"process {pid} " + ("goes on with its other files" if goes_on else "has ended")


def _ref_commit(repo_folder: Path) -> str | None:
    try:
        return (repo_folder / "refs" / "main").read_text().strip() or None
    except OSError:
        return None


def _lookup(
    endpoint: str, repo_type: str, repo_id: str, revision: str, etag: str
) -> tuple[str, int, str | None] | None:
    found = lookup_blob(endpoint, repo_type, repo_id, revision, etag)
    if found is None:
        return None
    return found[0], found[1], revision if len(revision) == 40 else None
