"""The cache pane: repos → revisions → files, with sort, filter and a totals line."""

from __future__ import annotations

import re
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
from tui.widgets.table_cells import ROW_KEYS, cursor_key, plain, right

_SORT_COLUMNS = {"size": SortKey.SIZE, "accessed": SortKey.ACCESSED, "modified": SortKey.MODIFIED, "name": SortKey.NAME}


_SORT_GROUP = Binding.Group("Sort", compact=True)


class CacheTable(DataTable[Text | str]):
    """The cache's rows; Enter opens a repo's revisions, a revision's files (and says so in the footer)."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", key_display="⏎"), *ROW_KEYS]


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
        Binding("s", "sort('size')", "Sort by size", group=_SORT_GROUP),
        Binding("n", "sort('name')", "Sort by name", group=_SORT_GROUP),
        Binding("u", "sort('accessed')", "Sort by last used", group=_SORT_GROUP),
        Binding("t", "sort('modified')", "Sort by last modified", group=_SORT_GROUP),
        Binding("space", "mark", "Mark ↓"),
        Binding("d", "delete", "Delete…"),
        Binding("P", "prune", "Prune…", key_display="P"),
        Binding("v", "verify", "Verify"),
    ]
    KEYS: ClassVar[list[tuple[str, str]]] = [
        ("Enter", "open a repo's revisions, a revision's files"),
        ("Esc / Backspace", "back up one level, the cursor on the row you came from (or clear the filter)"),
        ("/", "filter: size>1GB accessed>30d modified<7d type=model refs=main, or words of the repo id; Enter applies"),
        ("s n u t", "sort by size, name, last used (accessed), last modified; again reverses"),
        ("w", "show the cache's warnings (corrupted repos); d there deletes a corrupted folder after a review"),
        (
            "Space",
            "mark the highlighted repo, revision or file (again: unmark) and move to the next row; the totals say "
            "what the marks free",
        ),
        ("d", "review the marked items and what each frees, then delete them"),
        (
            "P",
            "prune: detached revisions, partial files whose download died, unheld lock files, shared blobs no repo "
            "links to; reviewed first",
        ),
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

    class RowsShown(Message):
        """The table shows other rows (or the filter box opened or closed): its height may want to change."""

    @dataclass
    class DeleteRequested(Message):
        """The user asked to review and delete what `marks` name."""

        marks: frozenset[Mark]

    scan: reactive[CacheScan | None] = reactive(None, always_update=True, init=False, repaint=False)
    """The latest scan; set by the app."""
    sort: reactive[CacheSort] = reactive(CacheSort, init=False, repaint=False)
    cache_filter: reactive[CacheFilter] = reactive(CacheFilter, init=False, repaint=False)
    location: reactive[CacheLocation] = reactive(CacheLocation, init=False, repaint=False)
    marks: reactive[frozenset[Mark]] = reactive(frozenset, init=False, repaint=False)
    partials: reactive[tuple[int, int] | None] = reactive(None, init=False, repaint=False)
    """(partial files, bytes on disk) as of the latest snapshot: livelier than the scan's; set by the dashboard."""
    will_free: reactive[int | None] = reactive(None, init=False, repaint=False)
    """What the marks free, as huggingface_hub computes it; set by the app (None: being worked out)."""

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self._shown_level: str | None = None
        self._shown_repos: int | None = None
        self._return_to: str | None = None
        self._shown_width = 0
        """The row to put the cursor on after going back a level: the repo or revision just left."""
        self._shown_layout: tuple[object, ...] | None = None
        """The level and the columns (key, width) the table has now."""

    def compose(self) -> ComposeResult:
        yield Static(id="cache-crumb")
        yield Input(placeholder="filter: size>1GB accessed>30d type=model, or part of a repo id", id="cache-filter")
        yield Static(id="cache-filter-error")
        yield Static(id="cache-empty")
        yield CacheTable(id="cache-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="cache-totals")

    def on_mount(self) -> None:
        self.border_title = "Cache"
        self.query_one("#cache-filter").display = False
        self.query_one("#cache-filter-error").display = False
        self._render_all()
        # Ages ("5m ago") go stale while nothing changes; redraw the short lists now and then.
        self.set_interval(30, self._refresh_ages)

    def wanted_height(self) -> int:
        """Lines the pane needs to show every row: border, crumb, header, rows, totals, and the filter box."""
        if not self.is_mounted or not self.query("#cache-table"):
            return 8
        table = self.query_one("#cache-table", DataTable)
        lines = 2 + 1 + 1 + 1  # border, crumb, header, totals
        lines += max(3, table.row_count) if table.display else 5
        if self.query_one("#cache-filter").display:
            lines += 3
        if self.query_one("#cache-filter-error").display:
            lines += 2
        return lines

    def on_resize(self) -> None:
        if self.size.width != self._shown_width:
            self._shown_width = self.size.width
            self._render_all()  # the columns that fit change with the width

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
            table.move_cursor(row=table.cursor_row + 1)  # as in ncdu and mc: mark a run of rows with Space

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
        if not any(r.nb_files for r in revisions):
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
        self.post_message(self.RowsShown())

    def action_back(self) -> None:
        if self.location.revision:
            self._return_to = self.location.revision
            self.location = CacheLocation(repo=self.location.repo)
        elif self.location.repo:
            self._return_to = self.location.repo
            self.location = CacheLocation()
        elif not self.cache_filter.is_empty:
            self._close_filter(clear=True)

    def open_highlighted(self) -> None:
        """Open the highlighted repo or revision, as Enter on its row."""
        key = cursor_key(self.query_one("#cache-table", DataTable))
        if key is None:
            self.notify("No row to open.", timeout=3)
        elif self.location.level == "files":
            self.notify("A file has nothing to open: Esc goes back to the revisions.", timeout=3)
        else:
            self._open(key)

    @on(DataTable.RowSelected, "#cache-table")
    def _open_row(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is not None:
            self._open(key)

    def _open(self, key: str) -> None:
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
    def _filter_typed(self, event: Input.Changed) -> None:
        # Nothing applies while typing (a half-typed word is no filter); what is wrong is said at once.
        if not event.input.display:
            return  # the box was closed (Esc cleared the filter): no hint under a box that is not there
        error = self.query_one("#cache-filter-error", Static)
        problem = filter_problem(event.value)
        if problem is None:
            error.update(Text("Enter applies the filter, Esc leaves it as it was.", style="dim"))
        else:
            error.update(Text(problem, style="yellow"))
        if not error.display:
            error.display = True
            self.post_message(self.RowsShown())

    @on(Input.Submitted, "#cache-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        problem = filter_problem(event.value)
        if problem is not None:
            # Not applied: the filter in force stays the last good one.
            self.query_one("#cache-filter-error", Static).update(
                Text.assemble((problem, "bold red"), (" The filter in force is unchanged.", "dim"))
            )
            return
        self.cache_filter = parse_filter(event.value)
        self._close_filter(clear=False)

    def on_key(self, event) -> None:
        if event.key == "escape" and self.query_one("#cache-filter", Input).has_focus:
            event.stop()
            self._close_filter(clear=False)

    def _close_filter(self, clear: bool) -> None:
        box = self.query_one("#cache-filter", Input)
        if clear:
            box.value = ""
            self.cache_filter = CacheFilter()
        self.query_one("#cache-filter-error").display = False
        box.display = False  # the crumb line shows the filter in force; `/` opens it again
        self.query_one("#cache-table").focus()
        self.post_message(self.RowsShown())

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
        previous_key = cursor_key(table) if self._shown_level == location.level else self._return_to
        self._return_to = None
        if revision is not None:
            rows = list(self._file_rows(revision, now))
        elif repo is not None:
            rows = list(self._revision_rows(repo, now))
        else:
            rows = list(self._repo_rows(list(info.repos), now))
        columns = _COLUMNS[location.level]
        widths = [
            fixed or min(max([len(label), *(len(plain(cells[i])) for _, cells in rows)]), _MAX_WIDTH)
            for i, (label, _, fixed, _) in enumerate(columns)
        ]
        room = self.content_size.width - 2 if self.content_size.width else 10_000  # 2: a scrollbar
        shown, name_width = _fit_columns(columns, widths, room)
        name = next(i for i, c in enumerate(columns) if c[1] == "name")
        if name_width < widths[name]:
            rows = [(key, _cut_name(cells, name, name_width)) for key, cells in rows]
        rows = [(key, tuple(cells[i] for i in shown)) for key, cells in rows]
        layout = (location.level, tuple((columns[i][1], name_width if i == name else widths[i]) for i in shown))
        keys = [key for key, _ in rows]
        if layout == self._shown_layout and keys == [k.value for k in table.rows]:
            # The same rows in the same columns (a file landed in one repo): only the cells that changed are
            # set; a rebuild of every row on each change costs more than the rest of the refresh.
            for key, cells in rows:
                for (column, _), cell in zip(layout[1], cells, strict=True):
                    if table.get_cell(key, column) != cell:
                        table.update_cell(key, column, cell)
        else:
            # Columns are rebuilt with widths measured here: DataTable's own measuring is lazy and,
            # across quick successive redraws, sometimes left a column as wide as its header only.
            table.clear(columns=True)
            for i in shown:
                label, key, _, _ = columns[i]
                table.add_column(label, key=key, width=name_width if i == name else widths[i])
            for key, cells in rows:
                table.add_row(*cells, key=key)
            self._shown_layout = layout
        self._shown_level = location.level
        self._shown_repos = table.row_count if location.level == "repos" else None
        if previous_key is not None and previous_key in table.rows:
            table.move_cursor(row=table.get_row_index(previous_key), animate=False)
        self._render_crumb()
        self._render_totals()
        self.post_message(self.RowsShown())

    def _repo_rows(self, repos: list[CachedRepoInfo], now: float):
        total = sum(r.size_on_disk for r in repos)
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
                    share_bar(repo.size_on_disk, total),
                    Text(", ".join(refs)) if refs else Text("detached", style="yellow"),
                    fmt.age_short(repo.last_accessed, now),
                    fmt.age_short(repo.last_modified, now),
                ),
            )

    def _revision_rows(self, repo: CachedRepoInfo, now: float):
        revisions = filter_revisions(repo, list(repo.revisions), self.cache_filter, now)
        total = sum(r.size_on_disk for r in repo.revisions)
        for rev in sort_revisions(revisions, self.sort):
            yield (
                rev.commit_hash,
                (
                    self._marked(Text(fmt.short_hash(rev.commit_hash)), Mark(repo.cache_id, rev.commit_hash)),
                    Text(", ".join(sorted(rev.refs))) if rev.refs else Text("detached", style="yellow"),
                    right(fmt.size(rev.size_on_disk), 9),
                    share_bar(rev.size_on_disk, total),
                    right(rev.nb_files, 5),
                    fmt.age_short(rev.last_modified, now),
                ),
            )

    def _file_rows(self, revision: CachedRevisionInfo, now: float):
        total = sum(f.size_on_disk for f in revision.files)
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
                    share_bar(f.size_on_disk, total),
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
        if location.level == "repos":
            parts += [Text("   f: xet folder & datasets cache", style="dim")]
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
        narrow = 0 < self.content_size.width < 100  # one line, not two: the short forms
        repos = fmt.count(len(info.repos), "repo")
        if self._shown_repos is not None and self._shown_repos != len(info.repos):
            repos = f"{self._shown_repos} of {repos} shown"
        parts = [
            Text(repos, style="bold"),
            Text(f"{fmt.size(info.size_on_disk)}{'' if narrow else ' on disk'}", style="bold"),
        ]
        if not scan.complete:
            parts.insert(1, Text("scanning…", style="bold yellow"))
        count, size = self.partials or (len(info.incomplete_files), scan.partial_bytes)
        if count:
            parts.append(Text(f"{fmt.count(count, 'partial download')} ({fmt.size(size)})", style="yellow"))
        else:
            parts.append(Text("no partial downloads", style="dim"))
        if info.warnings:
            parts.append(
                Text(f"{fmt.count(len(info.warnings), 'warning')} (w{'' if narrow else ' to view'})", style="bold red")
            )
        if self.marks:  # first: the line is cut at the right in a narrow pane
            frees = "…" if self.will_free is None else fmt.size(self.will_free)
            parts.insert(0, Text(f"{len(self.marks)} marked, will free {frees}", style="bold magenta"))
            parts.insert(1, Text("Space marks and moves down, d reviews", style="dim"))
        totals.update(Text(" · ").join(parts))


_KEYS = ("size", "accessed", "modified", "type", "refs")
_UNIT = re.compile(r"(\d+)\s*([a-z]*)")
_BYTE_UNITS = ("k", "kb", "m", "mb", "g", "gb", "t", "tb", "p", "pb")
_TIME_UNITS = ("s", "m", "h", "d", "w", "mo", "y")
_TERM = re.compile(r"(?P<key>[A-Za-z_]*)\s*(?P<op>==|!=|>=|<=|>|<|=)\s*(?P<value>\S*)")


def filter_problem(text: str) -> str | None:
    """What is wrong with a filter, in words (None: nothing). The words are hftop's; whether a term
    holds is still decided by huggingface_hub's own parser (`parse_filter`)."""
    for token in re.findall(r"[A-Za-z_]*\s*(?:==|!=|>=|<=|>|<|=)\s*\S*|\S+", text.strip()):
        match = _TERM.fullmatch(token.strip())
        if match is None:
            continue  # a plain word of the repo id
        problem = _term_problem(match["key"].lower(), match["op"], match["value"])
        if problem:
            return problem
    try:
        parse_filter(text)
    except FilterError as e:
        return str(e)
    return None


def _term_problem(key: str, op: str, value: str) -> str | None:
    if not key:
        return f"'{op}{value}' needs a key in front, like size>1GB or accessed>30d."
    if key not in _KEYS:
        return f"hftop cannot filter by '{key}': the keys are size, accessed, modified, type and refs (size>1GB, type=model)."
    if key in ("type", "refs") and op != "=":
        return f"{key} only takes '=', like {'type=model' if key == 'type' else 'refs=main'}."
    if not value:
        example = {"size": "size>1GB", "accessed": "accessed>30d", "modified": "modified<7d", "type": "type=model"}
        return f"'{key}{op}' needs a value after it, like {example.get(key, 'refs=main')}."
    if "." in value or "," in value:
        return f"Invalid value '{value}': {key} takes whole numbers, like size>1500MB for 1.5 GB."
    if key == "size":
        number = _UNIT.fullmatch(value.lower())
        if number is None or number[2] not in ("", *_BYTE_UNITS):
            return f"Invalid value '{value}': a size needs a number and a unit, like size>1GB (units: kB, MB, GB, TB)."
    if key in ("accessed", "modified"):
        number = _UNIT.fullmatch(value.lower())
        if number is None or number[2] not in ("", *_TIME_UNITS):
            return (
                f"Invalid value '{value}': {key} needs a number and a unit of time, like {key}>30d "
                "(s, m, h, d, w, mo, y)."
            )
    if key == "type" and value.lower() not in ("model", "dataset", "space"):
        return f"'{value}' is not a repo type: type=model, type=dataset or type=space."
    return None


_MAX_WIDTH = 60
_BAR = 10
# (header, key, fixed width or None to fit the content, priority) for each level. A narrow pane
# leaves out the columns of highest priority number first; the name and the size always stay.
# The share bar follows the first columns the tests and users know by place.
_COLUMNS: dict[str, list[tuple[str, str, int | None, int]]] = {
    "repos": [
        ("Type", "type", 7, 4),
        ("Repo", "name", None, 0),
        ("Size", "size", 9, 0),
        ("Files", "files", 5, 7),
        ("Revs", "revisions", 4, 8),
        ("Share", "share", _BAR + 5, 1),
        ("Refs", "refs", None, 3),
        ("Accessed", "accessed", None, 5),
        ("Modified", "modified", None, 6),
    ],
    "revisions": [
        ("Revision", "hash", 12, 0),
        ("Refs", "name", None, 0),
        ("Size", "size", 9, 0),
        ("Share", "share", _BAR + 5, 1),
        ("Files", "files", 5, 3),
        ("Modified", "modified", None, 2),
    ],
    "files": [
        ("Path", "name", None, 0),
        ("Size", "size", 9, 0),
        ("Blob", "blob", 14, 4),
        ("Share", "share", _BAR + 5, 1),
        ("Accessed", "accessed", None, 2),
        ("Modified", "modified", None, 3),
    ],
}

_MIN_NAME = 16
"""Under this a name cut in the middle no longer reads: columns give way first."""


def share_bar(size: int, total: int) -> Text:
    """`██████▍    42%`, as ncdu draws a folder's share of its parent: eighths of a cell, then the percent."""
    share = min(1.0, size / total) if total > 0 else 0.0
    eighths = round(share * _BAR * 8)
    bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
    return Text.assemble((bar.ljust(_BAR), "magenta"), (f"{share:5.0%}", "dim"))


def _fit_columns(
    columns: list[tuple[str, str, int | None, int]], widths: list[int], room: int
) -> tuple[list[int], int]:
    """The columns that fit in `room` cells (two of padding each) and the name column's width: all
    of them if they fit; else the least needed go, then the name is cut in the middle."""
    name = next(i for i, c in enumerate(columns) if c[1] == "name")
    shown = list(range(len(columns)))

    def used(indexes: list[int], name_width: int) -> int:
        return sum((name_width if i == name else widths[i]) + 2 for i in indexes)

    droppable = sorted((i for i, c in enumerate(columns) if c[3] > 0), key=lambda i: -columns[i][3])
    for i in droppable:
        if used(shown, min(widths[name], _MIN_NAME)) <= room:
            break
        shown.remove(i)
    name_width = max(4, min(widths[name], room - used([i for i in shown if i != name], 0) - 2))
    return shown, name_width


def _cut_name(cells: tuple, name: int, width: int) -> tuple:
    """The row with its name cut in the middle (`…` marks it), the mark in front kept."""
    cell = cells[name]
    text = cell if isinstance(cell, Text) else Text(str(cell))
    if len(text) > width:
        head = (width - 1) // 2
        text = text[:head] + Text("…", style="dim") + text[len(text) - (width - 1 - head) :]
    return (*cells[:name], text, *cells[name + 1 :])


def _blob_label(blob_path: Path) -> str:
    name = blob_path.name
    return name[:12] + "…" if len(name) > 13 else name
