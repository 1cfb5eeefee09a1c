"""A download's verdict in words: the line under the downloads table and the head of its details."""

from __future__ import annotations

from rich.text import Text

from tui.core import formatting as fmt
from tui.core.downloads import DownloadState, DownloadView, ExternalDownload

# Each state a colour of its own, readable on the pane and under its cursor (the downloads table
# keeps the cells' colours there, on a grey bar). The three that need a person stand out most.
STATE_STYLE = {
    DownloadState.STARTING: "dim",
    DownloadState.DOWNLOADING: "green",
    DownloadState.SLOW_TAIL: "bold yellow",
    DownloadState.STALLED: "bold #ffffff on #c01c28",
    DownloadState.CANCELLING: "dim yellow",
    DownloadState.FINISHING: "green",
    DownloadState.ORPHANED: "bold #ff87ff",
    DownloadState.OWNER_UNKNOWN: "italic #af87ff",
    DownloadState.NO_SPACE: "bold #ff8700",
    DownloadState.WAITING: "bold cyan",
    DownloadState.QUEUED: "cyan",
    DownloadState.DONE: "dim green",
    DownloadState.FAILED: "bold #ff5f5f",
    DownloadState.CANCELLED: "dim",
}

SEVERITY = (
    DownloadState.STALLED,
    DownloadState.FAILED,
    DownloadState.NO_SPACE,
    DownloadState.WAITING,
    DownloadState.ORPHANED,
    DownloadState.OWNER_UNKNOWN,
    DownloadState.SLOW_TAIL,
    DownloadState.QUEUED,
    DownloadState.CANCELLING,
    DownloadState.STARTING,
    DownloadState.DOWNLOADING,
    DownloadState.FINISHING,
    DownloadState.CANCELLED,
    DownloadState.DONE,
)
"""The downloads pane's order: what needs a person first, what is over last."""

_RANK = {state: i for i, state in enumerate(SEVERITY)}

NEEDS_A_LOOK = SEVERITY[: SEVERITY.index(DownloadState.SLOW_TAIL) + 1]
"""The states the status line counts."""


def severity(state: DownloadState) -> int:
    """The rank of `state` in `SEVERITY` (0 is the most urgent)."""
    return _RANK.get(state, len(SEVERITY))


def badge(states: list[DownloadState], most: int | None = None) -> Text:
    """`1 stalled · 1 failed`: how many downloads are in each state that needs a look, worst first;
    with `most`, the worst `most` states and `+N` for the downloads in the others."""
    parts = [
        Text(f"{states.count(state)} {state.value}", style=STATE_STYLE[state])
        for state in NEEDS_A_LOOK
        if state in states
    ]
    if most is not None and len(parts) > most:
        rest = sum(states.count(state) for state in NEEDS_A_LOOK if state in states) - sum(
            int(part.plain.split()[0]) for part in parts[:most]
        )
        return Text(" · ").join(parts[:most]) + Text(f" +{rest}", style="bold")
    return Text(" · ").join(parts)


def explain(row: DownloadView | ExternalDownload, stall_after: float, in_details: bool = False) -> Text:
    """The row's verdict in words, as the line under the table says it (`in_details`: without pointing to
    the details, where it is shown)."""
    if isinstance(row, DownloadView):
        return describe(row, stall_after)
    return describe_external(row, stall_after, in_details)


def describe(v: DownloadView, stall_after: float) -> Text:
    """The highlighted download in a line or two: which file, what is happening, what the keys do."""
    count = len(v.plan.files)
    if v.current_file and v.state.active:
        where = v.current_file + (f" ({v.files_done + 1} of {count})" if count > 1 else "")
    else:
        where = v.plan.files[0].path if count == 1 else f"{count} files"
    head = Text.assemble((where, "bold"), f" · pid {v.pid} · " if v.pid and v.state.active else " · ")
    file = v.current_file or "the current file"
    lost = f" The last attempt threw away {fmt.size(v.lost_bytes)}." if v.lost_bytes and v.attempt > 1 else ""
    if v.resumed_from and v.state.active:
        lost = f" Resumed at {fmt.size(v.resumed_from)}: those bytes were kept.{lost}"
    kept = f" {fmt.size(v.kept_bytes)} of {file} are kept: R resumes from them, x deletes them." if v.kept_bytes else ""
    state = v.state
    if state is DownloadState.STALLED:
        # Short: the line under the table holds two lines; the details say it whole.
        if v.connections == 0:
            network = "; no connection open"
        elif v.connections is not None and v.net_idle is not None:
            idle = "all idle" if v.net_idle >= v.quiet_for - 2 else f"last data {fmt.duration(v.net_idle)} ago"
            network = f"; {fmt.count(v.connections, 'connection')} open, {idle}"
        else:
            network = ""
        if v.rate:  # bytes arrive, but each retry brings again what an earlier connection brought
            body = Text.assemble(
                (f"No progress for {fmt.duration(v.quiet_for)}", "bold red"),
                f" (threshold {fmt.duration(stall_after)}): bytes arrive, but each retry fetches again from its last "
                "write step and gets no further. R resumes it from the bytes on disk; x cancels.",
            )
        else:
            body = Text.assemble(
                (f"No new bytes for {fmt.duration(v.quiet_for)}", "bold red"),
                f" (threshold {fmt.duration(stall_after)}){network}. R resumes it from the bytes on disk; x cancels.",
            )
    elif state is DownloadState.SLOW_TAIL:
        body = Text.assemble(
            ("Slow tail: ", "bold yellow"),
            f"{fmt.rate(v.rate)}, far under its own average; {fmt.duration(v.eta)} to go at this pace. "
            "R restarts it, resuming from the bytes on disk.",
        )
    elif state is DownloadState.FAILED:
        thrown = f" {fmt.size(v.lost_bytes)} of {file} were thrown away." if v.lost_bytes else ""
        error = v.error or "unknown error"
        if v.fresh_needed:
            again = " R downloads it afresh."
        elif v.kept_bytes:
            again = "" if "keeps" in error else f" {fmt.size(v.kept_bytes)} of {file} are kept."
            again += " R resumes from the bytes kept, x deletes them."
        else:
            again = " R retries."
        body = Text.assemble(("Failed: ", "bold red"), error, thrown, again)
    elif state is DownloadState.CANCELLED:
        if v.kept_bytes:
            lost_too = f" ({fmt.size(v.lost_bytes)} that arrived were not written yet)" if v.lost_bytes else ""
            body = Text(f"Cancelled.{kept}{lost_too}", style="dim")
        else:
            thrown = f"; {fmt.size(v.lost_bytes)} of partial file deleted" if v.lost_bytes else ""
            body = Text(f"Cancelled{thrown}. R starts it again.", style="dim")
    elif state is DownloadState.DONE:
        reused = f", {fmt.size(v.reused_bytes)} of it resumed from bytes on disk" if v.reused_bytes else " fetched"
        body = Text(f"Done in {fmt.took(v.age)}: {fmt.size(v.total_bytes)}{reused}.{lost}", style="green")
    elif state is DownloadState.CANCELLING:
        body = Text("Stopping its process group…", style="yellow")
    elif state is DownloadState.STARTING:
        body = Text(f"Starting: asking the endpoint for {file}…{lost}", style="dim")
    else:
        again = f"attempt {v.attempt} · " if v.attempt > 1 else ""
        body = Text(
            f"{again}{fmt.size(v.done_bytes)} of {fmt.size(v.total_bytes)} at {fmt.rate(v.rate)}, "
            f"{fmt.duration(v.eta)} left.{lost} x cancels, R restarts.",
            style="dim",
        )
    # While bytes flow, where from: the mirror may redirect to a CDN or to Xet's storage. Short here
    # (two lines hold the whole verdict); the details name the host.
    if v.bytes_elsewhere and state in (DownloadState.DOWNLOADING, DownloadState.SLOW_TAIL):
        body += Text(" Bytes not from the mirror (Enter).", style="yellow")
    return head + body


def _external_keys(row: ExternalDownload) -> str:
    """What the keys do for this row, in the words of its verdict."""
    state = row.state
    refetch = bool(row.file_name and row.commit) and row.repo_type != "local"
    again = ", R fetches the file with hftop instead" if refetch else ""
    if (state is DownloadState.ORPHANED or row.kept is not None) and row.progress.real_bytes == 0:
        return "Nothing of it was written: x deletes it, R fetches it with hftop." if refetch else "x deletes it."
    if state is DownloadState.ORPHANED or row.kept is not None:
        return "R resumes it from its bytes, x deletes it." if refetch else "x deletes it."
    if state is DownloadState.FAILED:
        return "R fetches it again with hftop." if refetch else "Run its download again."
    if state is DownloadState.OWNER_UNKNOWN:
        return "hftop leaves it alone: its writer is out of reach."
    if state is DownloadState.WAITING:
        return "x stops the waiting process."
    if state is DownloadState.NO_SPACE:
        return "c shows the cache, largest first, to free space; x stops the process."
    if state is DownloadState.FINISHING:
        return ""
    return f"x stops its process{again}."


def describe_external(row: ExternalDownload, stall_after: float, in_details: bool = False) -> Text:
    """Another program's download in a line or two: whose it is, the verdict's evidence, the keys."""
    p = row.progress
    name = row.file_name or f"blob {row.etag[:12]}"
    # Two lines hold the verdict; the command line and the hosts are in the details (Enter).
    pid = f" · pid {row.owner_pid} ({row.owner_status})" if row.owner_pid is not None else ""
    head = Text.assemble((name, "bold"), pid, " · ")
    evidence = list(row.evidence) or [p.state.value]
    if p.state is DownloadState.STALLED:
        evidence[0] += f" (threshold {fmt.duration(stall_after)})"
    keys = _external_keys(row)
    # The first piece of evidence and the keys; Enter shows the rest.
    return head + Text.assemble(
        (evidence[0][:1].upper() + evidence[0][1:], STATE_STYLE[p.state]),
        f". {keys}" if keys else ".",
        (" Enter: evidence." if len(evidence) > 1 and not in_details else "", "dim"),
    )
