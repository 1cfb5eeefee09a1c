"""The cache pane: repos → revisions → files, with sort, filter and a totals line."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from huggingface_hub import CachedFileInfo, CachedRepoInfo, CachedRevisionInfo
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from tui.core import formatting as fmt
from tui.core.cache_query import (
    CacheFilter,
    CacheSort,
    FilterError,
    SortKey,
    filter_files,
    filter_repos,
    filter_revisions,
    parse_filter,
    relative_path,
    sort_files,
    sort_repos,
    sort_revisions,
)
from tui.core.cleanup import Mark, toggled
from tui.probes.cache_scan import CacheScan
from tui.widgets.table_cells import cursor_key, plain, right

_SORT_COLUMNS = {"size": SortKey.SIZE, "accessed": SortKey.ACCESSED, "modified": SortKey.MODIFIED, "name": SortKey.NAME}


@dataclass(frozen=True)
class CacheLocation:
    """Where the user is: the repo list, one repo's revisions, or one revision's files."""

    repo: str | None = None
    """`type/id` of the opened repo."""
    revision: str | None = None
    """Commit hash of the opened revision."""

    @property
    def level(self) -> str:
        return "files" if self.revision else "revisions" if self.repo else "repos"


class CachePane(Vertical, can_focus=False):
    """Everything under the Hub cache, one repo a row."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "back", "Back", show=False),
        Binding("backspace", "back", "Back", show=False),
        Binding("s", "sort('size')", "Size", show=False),
        Binding("n", "sort('name')", "Name", show=False),
        Binding("u", "sort('accessed')", "Used", show=False),
        Binding("t", "sort('modified')", "Modified", show=False),
        Binding("space", "mark", "Mark"),
        Binding("d", "delete", "Delete…"),
        Binding("P", "prune", "Prune…", key_display="P"),
        Binding("v", "verify", "Verify"),
    ]
    KEYS: ClassVar[list[tuple[str, str]]] = [
        ("Enter", "open a repo's revisions, a revision's files"),
        ("Esc / Backspace", "back up one level (or clear the filter)"),
        ("/", "filter: size>1GB accessed>30d modified<7d type=model refs=main, or words of the repo id"),
        ("s n u t", "sort by size, name, last used (accessed), last modified; again reverses"),
        ("w", "show the cache's warnings (corrupted repos)"),
        ("Space", "mark the highlighted repo, revision or file (again: unmark); the totals say what the marks free"),
        ("d", "review the marked items and what each frees, then delete them"),
        ("P", "prune: detached revisions, partial files whose download died, unheld lock files; reviewed first"),
        (
            "v",
            "verify the highlighted repo or revision (or the open revision) offline: each file against its blob's hash",
        ),
    ]

    @dataclass
    class MarksChanged(Message):
        """The marks changed: the dashboard works out what they would free."""

        marks: frozenset[Mark]

    class PruneRequested(Message):
        """The user asked what prune would delete."""

    @dataclass
    class VerifyRequested(Message):
        """The user asked to check the files of `revisions` of `repo` against their blobs' hashes."""

        label: str
        revisions: tuple[CachedRevisionInfo, ...]
        repo: CachedRepoInfo

    @dataclass
    class DeleteRequested(Message):
        """The user asked to review and delete what `marks` name."""

        marks: frozenset[Mark]

    scan: reactive[CacheScan | None] = reactive(None, always_update=True, init=False)
    """The latest scan; set by the app."""
    sort: reactive[CacheSort] = reactive(CacheSort, init=False)
    cache_filter: reactive[CacheFilter] = reactive(CacheFilter, init=False)
    location: reactive[CacheLocation] = reactive(CacheLocation, init=False)
    marks: reactive[frozenset[Mark]] = reactive(frozenset, init=False)
    partials: reactive[tuple[int, int] | None] = reactive(None, init=False)
    """(partial files, bytes on disk) as of the latest snapshot: livelier than the scan's; set by the dashboard."""
    will_free: reactive[int | None] = reactive(None, init=False)
    """What the marks free, as huggingface_hub computes it; set by the app (None: being worked out)."""

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self._shown_level: str | None = None
        self._shown_repos: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="cache-crumb")
        yield Input(placeholder="filter: size>1GB accessed>30d type=model, or part of a repo id", id="cache-filter")
        yield Static(id="cache-filter-error")
        yield Static(id="cache-empty")
        yield DataTable(id="cache-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="cache-totals")

    def on_mount(self) -> None:
        self.border_title = "Cache"
        self.query_one("#cache-filter").display = False
        self.query_one("#cache-filter-error").display = False
        self._render_all()
        # Ages ("5m ago") go stale while nothing changes; redraw the short lists now and then.
        self.set_interval(30, self._refresh_ages)

    def _refresh_ages(self) -> None:
        if self.location.level != "files":
            self._render_all()

    # --- reactive watchers ----------------------------------------------------------------
    def watch_scan(self) -> None:
        self._render_all()

    def watch_sort(self) -> None:
        self._render_all()

    def watch_cache_filter(self) -> None:
        self._render_all()

    def watch_location(self) -> None:
        self._render_all()

    def watch_marks(self) -> None:
        self.will_free = None
        self.post_message(self.MarksChanged(self.marks))
        self._render_all()

    def watch_partials(self) -> None:
        if self.is_mounted and self.query("#cache-totals"):
            self._render_totals()

    def watch_will_free(self) -> None:
        if self.is_mounted and self.query("#cache-totals"):
            self._render_totals()

    # --- actions ---------------------------------------------------------------------------
    def action_mark(self) -> None:
        key = cursor_key(self.query_one("#cache-table", DataTable))
        if key is None or self.scan is None or self.scan.info is None:
            return
        location = self.location
        if location.repo is None:
            mark = Mark(key)
        elif location.revision is None:
            mark = Mark(location.repo, key)
        else:
            mark = Mark(location.repo, location.revision, key)
        self.marks = toggled(self.marks, mark)
        table = self.query_one("#cache-table", DataTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_delete(self) -> None:
        if not self.marks:
            self.notify("Nothing is marked: Space marks the highlighted repo, revision or file.", timeout=4)
            return
        self.post_message(self.DeleteRequested(self.marks))

    def action_verify(self) -> None:
        info = self.scan.info if self.scan is not None else None
        if info is None:
            return
        key = cursor_key(self.query_one("#cache-table", DataTable))
        location = self.location
        repo = self._find_repo(info, key if location.level == "repos" else location.repo)
        if repo is None:
            return
        if location.level == "repos":
            revisions, label = list(repo.revisions), repo.cache_id
        else:
            commit = key if location.level == "revisions" else location.revision
            revisions = [r for r in repo.revisions if r.commit_hash == commit]
            label = f"{repo.cache_id} @ {fmt.short_hash(commit or '')}"
        if not any(r.files for r in revisions):
            self.notify("Nothing to verify here.", timeout=3)
            return
        self.post_message(self.VerifyRequested(label, tuple(revisions), repo))

    def mark_mismatches(self, request: VerifyRequested, mismatched: tuple[CachedFileInfo, ...]) -> None:
        """Mark the files a verification found wrong, so `d` reviews and deletes them."""
        by_path = {f.file_path: r.commit_hash for r in request.revisions for f in r.files}
        self.marks = self.marks | {
            Mark(request.repo.cache_id, by_path[f.file_path], str(f.file_path)) for f in mismatched
        }
        self.notify(f"Marked {fmt.count(len(mismatched), 'file')}: d reviews and deletes them.", timeout=6)

    def action_prune(self) -> None:
        self.post_message(self.PruneRequested())

    def action_sort(self, key: str) -> None:
        self.sort = self.sort.pressed(SortKey(key))

    def action_filter(self) -> None:
        box = self.query_one("#cache-filter", Input)
        box.display = True
        box.value = self.cache_filter.text
        box.focus()

    def action_back(self) -> None:
        if self.location.revision:
            self.location = CacheLocation(repo=self.location.repo)
        elif self.location.repo:
            self.location = CacheLocation()
        elif not self.cache_filter.is_empty:
            self._close_filter(clear=True)

    @on(DataTable.RowSelected, "#cache-table")
    def _open_row(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        if self.location.level == "repos":
            self.location = CacheLocation(repo=key)
        elif self.location.level == "revisions":
            self.location = CacheLocation(repo=self.location.repo, revision=key)

    @on(DataTable.HeaderSelected, "#cache-table")
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        key = _SORT_COLUMNS.get(str(event.column_key.value))
        if key is not None:
            self.sort = self.sort.pressed(key)

    @on(Input.Changed, "#cache-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        error = self.query_one("#cache-filter-error", Static)
        try:
            self.cache_filter = parse_filter(event.value)
        except FilterError as e:
            error.update(Text(str(e), style="bold red"))
            error.display = True
            return
        error.display = False

    @on(Input.Submitted, "#cache-filter")
    def _filter_submitted(self) -> None:
        if not self.query_one("#cache-filter-error").display:
            self._close_filter(clear=False)

    def on_key(self, event) -> None:
        if event.key == "escape" and self.query_one("#cache-filter", Input).has_focus:
            event.stop()
            self._close_filter(clear=True)

    def _close_filter(self, clear: bool) -> None:
        box = self.query_one("#cache-filter", Input)
        if clear:
            box.value = ""
            self.cache_filter = CacheFilter()
        self.query_one("#cache-filter-error").display = False
        box.display = False  # the crumb line shows the filter in force; `/` opens it again
        self.query_one("#cache-table").focus()

    # --- rendering -------------------------------------------------------------------------
    def _find_repo(self, info, cache_id: str | None) -> CachedRepoInfo | None:
        return next((r for r in info.repos if r.cache_id == cache_id), None)

    def _render_all(self) -> None:
        if not self.is_mounted or not self.query("#cache-totals"):
            return  # on_mount renders once the children exist
        table = self.query_one("#cache-table", DataTable)
        empty = self.query_one("#cache-empty", Static)
        scan = self.scan
        if scan is None:
            empty.display = False  # the first scan is on its way: an empty table, ready for keys
            self._render_crumb()
            self._render_totals()
            return
        if scan.info is None:
            if table.has_focus:
                self.screen.set_focus(None)  # explicitly: nothing to act on until the cache appears
            table.display = False
            empty.display = True
            if scan.missing:
                empty.update(
                    Text.assemble(
                        ("No Hugging Face cache here yet.\n", "bold"),
                        f"hftop looked in {scan.cache_dir}\n",
                        "It is chosen by --cache-dir, else HF_HUB_CACHE, else HF_HOME/hub, "
                        "else ~/.cache/huggingface/hub. The pane fills in as soon as a download creates it.",
                    )
                )
            else:
                empty.update(Text.assemble(("Cannot read the cache\n", "bold red"), scan.error or ""))
            self._render_crumb()
            self._render_totals()
            return
        if not table.display:
            table.display = True
            if self.screen.focused is None:
                table.focus()
        empty.display = False
        info = scan.info
        location = self.location
        repo = self._find_repo(info, location.repo) if location.repo else None
        revision = None
        if location.repo and repo is None:
            self.notify(f"{location.repo} is no longer in the cache", severity="warning")
            self.location = CacheLocation()
            return
        if repo is not None and location.revision:
            revision = next((r for r in repo.revisions if r.commit_hash == location.revision), None)
            if revision is None:
                self.notify(f"Revision {location.revision[:12]} is no longer in the cache", severity="warning")
                self.location = CacheLocation(repo=location.repo)
                return
        now = self.clock()
        previous_key = cursor_key(table) if self._shown_level == location.level else None
        if revision is not None:
            rows = list(self._file_rows(revision, now))
        elif repo is not None:
            rows = list(self._revision_rows(repo, now))
        else:
            rows = list(self._repo_rows(list(info.repos), now))
        # Columns are rebuilt with widths measured here: DataTable's own measuring is lazy and,
        # across quick successive redraws, sometimes left a column as wide as its header only.
        table.clear(columns=True)
        columns = _COLUMNS[location.level]
        for index, (label, key, fixed) in enumerate(columns):
            measured = max([len(label), *(len(plain(cells[index])) for _, cells in rows)])
            table.add_column(label, key=key, width=fixed or min(measured, _MAX_WIDTH))
        self._shown_level = location.level
        for key, cells in rows:
            table.add_row(*cells, key=key)
        self._shown_repos = table.row_count if location.level == "repos" else None
        if previous_key is not None and previous_key in table.rows:
            table.move_cursor(row=table.get_row_index(previous_key), animate=False)
        self._render_crumb()
        self._render_totals()

    def _repo_rows(self, repos: list[CachedRepoInfo], now: float):
        for repo in sort_repos(filter_repos(repos, self.cache_filter, now), self.sort):
            refs = sorted({ref for rev in repo.revisions for ref in rev.refs})
            yield (
                repo.cache_id,
                (
                    repo.repo_type,
                    self._marked(Text(repo.repo_id), Mark(repo.cache_id)),
                    right(fmt.size(repo.size_on_disk), 9),
                    right(repo.nb_files, 5),
                    right(len(repo.revisions), 4),
                    Text(", ".join(refs)) if refs else Text("detached", style="yellow"),
                    fmt.age_short(repo.last_accessed, now),
                    fmt.age_short(repo.last_modified, now),
                ),
            )

    def _revision_rows(self, repo: CachedRepoInfo, now: float):
        revisions = filter_revisions(repo, list(repo.revisions), self.cache_filter, now)
        for rev in sort_revisions(revisions, self.sort):
            yield (
                rev.commit_hash,
                (
                    self._marked(Text(fmt.short_hash(rev.commit_hash)), Mark(repo.cache_id, rev.commit_hash)),
                    Text(", ".join(sorted(rev.refs))) if rev.refs else Text("detached", style="yellow"),
                    right(fmt.size(rev.size_on_disk), 9),
                    right(rev.nb_files, 5),
                    fmt.age_short(rev.last_modified, now),
                ),
            )

    def _file_rows(self, revision: CachedRevisionInfo, now: float):
        for f in sort_files(filter_files(list(revision.files), self.cache_filter), self.sort, revision):
            yield (
                str(f.file_path),
                (
                    self._marked(
                        Text(relative_path(f, revision)),
                        Mark(self.location.repo or "", revision.commit_hash, str(f.file_path)),
                    ),
                    right(fmt.size(f.size_on_disk), 9),
                    _blob_label(f.blob_path),
                    fmt.age_short(f.blob_last_accessed, now),
                    fmt.age_short(f.blob_last_modified, now),
                ),
            )

    def _marked(self, text: Text, mark: Mark) -> Text:
        """The row's name with a mark in front when it (or the repo or revision it belongs to) is marked."""
        covering = {Mark(mark.repo), Mark(mark.repo, mark.revision)} if mark.level != "repo" else set()
        if mark in self.marks:
            return Text.assemble(("● ", "bold magenta"), text)
        if covering & self.marks:
            return Text.assemble(("○ ", "magenta"), text)
        return text

    def _render_crumb(self) -> None:
        location = self.location
        parts = [Text("Repos", style="bold" if location.level == "repos" else "")]
        if location.repo:
            parts += [Text(" › "), Text(location.repo, style="bold" if location.level == "revisions" else "")]
        if location.revision:
            parts += [Text(" › "), Text(fmt.short_hash(location.revision), style="bold")]
        parts += [Text(f"   sorted by {self.sort.label}", style="dim")]
        if not self.cache_filter.is_empty:
            parts += [Text("   filter: ", style="dim"), Text(self.cache_filter.text, style="bold cyan")]
        self.query_one("#cache-crumb", Static).update(Text.assemble(*parts))

    def _render_totals(self) -> None:
        totals = self.query_one("#cache-totals", Static)
        scan = self.scan
        if scan is None or scan.info is None:
            totals.update("")
            return
        info = scan.info
        repos = fmt.count(len(info.repos), "repo")
        if self._shown_repos is not None and self._shown_repos != len(info.repos):
            repos = f"{self._shown_repos} of {repos} shown"
        parts = [
            Text(repos, style="bold"),
            Text(f"{fmt.size(info.size_on_disk)} on disk", style="bold"),
        ]
        count, size = self.partials or (len(info.incomplete_files), scan.partial_bytes)
        if count:
            parts.append(Text(f"{fmt.count(count, 'partial download')} ({fmt.size(size)})", style="yellow"))
        else:
            parts.append(Text("no partial downloads", style="dim"))
        if info.warnings:
            parts.append(Text(f"{fmt.count(len(info.warnings), 'warning')} (w to view)", style="bold red"))
        if self.marks:  # first: the line is cut at the right in a narrow pane
            frees = "…" if self.will_free is None else fmt.size(self.will_free)
            parts.insert(0, Text(f"{len(self.marks)} marked, will free {frees}", style="bold magenta"))
        totals.update(Text(" · ").join(parts))


_MAX_WIDTH = 60
# (header, key, fixed width or None to fit the content) for each level
_COLUMNS = {
    "repos": [
        ("Type", "type", 7),
        ("Repo", "name", None),
        ("Size", "size", 9),
        ("Files", "files", 5),
        ("Revs", "revisions", 4),
        ("Refs", "refs", None),
        ("Accessed", "accessed", None),
        ("Modified", "modified", None),
    ],
    "revisions": [
        ("Revision", "hash", 12),
        ("Refs", "name", None),
        ("Size", "size", 9),
        ("Files", "files", 5),
        ("Modified", "modified", None),
    ],
    "files": [
        ("Path", "name", None),
        ("Size", "size", 9),
        ("Blob", "blob", 14),
        ("Accessed", "accessed", None),
        ("Modified", "modified", None),
    ],
}


def _blob_label(blob_path: Path) -> str:
    name = blob_path.name
    return name[:12] + "…" if len(name) > 13 else name
