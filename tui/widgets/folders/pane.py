"""The folders pane: the xet folder and the datasets cache, one part a row (logs, shard caches, staging,
downloads, each Arrow cache…), what a live process uses, and what a cleanup frees. It takes the hub cache
pane's place (f switches)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from tui.core import formatting as fmt
from tui.core.folders import Area, FolderPart, HfFolders, PartKind, plan_folder_cleanup
from tui.widgets.table_cells import ROW_KEYS, cursor_key, middle_cut, right

_COLUMNS = (("Where", 8), ("Part", 0), ("Size", 9), ("Files", 6), ("Used by", 12), ("Cleanup", 0), ("Changed", 8))
_AREA_NAMES = {Area.XET: "xet folder", Area.DATASETS: "datasets cache"}


class FoldersTable(DataTable[Text | str]):
    """The parts of the xet folder and the datasets cache."""

    BINDINGS = [*ROW_KEYS]


class FoldersPane(Vertical, can_focus=False):
    """Everything Hugging Face keeps beside the hub cache."""

    BINDINGS = [
        Binding("space", "mark", "Mark ↓"),
        Binding("d", "delete", "Delete…"),
        Binding("P", "clean_up", "Clean up…", key_display="P"),
    ]
    KEYS: ClassVar[list[tuple[str, str]]] = [
        ("f", "switch between the hub cache and the xet folder with the datasets cache"),
        ("Space", "mark the highlighted Arrow cache (again: unmark) and move to the next row"),
        ("d", "review the marked Arrow caches, then delete them"),
        (
            "P",
            "clean up: hf_xet logs of gone processes older than a day, staging and chunk caches no hf_xet uses, "
            "datasets downloads and extracted archives nobody holds, unheld lock files, and the marked Arrow "
            "caches; reviewed first, nothing in use is ever offered",
        ),
    ]

    @dataclass
    class CleanupRequested(Message):
        marks: frozenset[str]
        marked_only: bool
        """d: only the marked Arrow caches; P: everything the rules offer, the marks too."""

    @dataclass
    class RowsShown(Message):
        pass

    folders: reactive[HfFolders | None] = reactive(None, init=False, always_update=True, repaint=False)
    marks: reactive[frozenset[str]] = reactive(frozenset(), init=False, repaint=False)

    def __init__(self, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self._shown: tuple[object, ...] | None = None
        """What the table shows now (rows and width): a new reading that changes nothing redraws nothing."""

    def compose(self) -> ComposeResult:
        yield Static(id="folders-where")
        yield Static(id="folders-empty")
        yield FoldersTable(id="folders-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="folders-totals")

    def on_mount(self) -> None:
        self.border_title = "Xet & datasets"
        self._render_all()

    def wanted_height(self) -> int:
        if not self.is_mounted or not self.query("#folders-table"):
            return 8
        table = self.query_one("#folders-table", DataTable)
        return 2 + 1 + 1 + 1 + max(3, table.row_count)

    def on_resize(self) -> None:
        self._render_all()

    def watch_folders(self) -> None:
        self._render_all()

    def watch_marks(self) -> None:
        self._render_all()

    # --- actions ---------------------------------------------------------------------------
    def action_mark(self) -> None:
        table = self.query_one("#folders-table", DataTable)
        key = cursor_key(table)
        part = self.folders.part(key) if self.folders is not None and key is not None else None
        if part is None or key is None:
            return
        if not part.markable:
            self.notify(
                f"{part.label}: only Arrow caches are marked; P offers the rest by its rules.",
                timeout=5,
            )
            return
        self.marks = self.marks - {key} if key in self.marks else self.marks | {key}
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_delete(self) -> None:
        if not self.marks:
            self.notify("Nothing is marked: Space marks the highlighted Arrow cache; P cleans up the rest.", timeout=5)
            return
        self.post_message(self.CleanupRequested(self.marks, marked_only=True))

    def action_clean_up(self) -> None:
        self.post_message(self.CleanupRequested(self.marks, marked_only=False))

    # --- rendering -------------------------------------------------------------------------
    def _render_all(self) -> None:
        if not self.is_mounted or not self.query("#folders-totals"):
            return
        table = self.query_one("#folders-table", DataTable)
        empty = self.query_one("#folders-empty", Static)
        folders = self.folders
        where = self.query_one("#folders-where", Static)
        if folders is None:
            where.update(Text("reading the xet folder and the datasets cache…", style="dim"))
            empty.display = False
            self.query_one("#folders-totals", Static).update("")
            return
        where.update(
            Text.assemble(("xet ", "dim"), str(folders.xet_dir), ("   datasets ", "dim"), str(folders.datasets_dir))
        )
        nothing = not folders.parts
        empty.display = nothing
        table.display = not nothing
        if nothing:
            empty.update(
                Text.assemble(
                    ("Nothing here yet.\n", "bold"),
                    "hf_xet keeps its logs and caches in HF_XET_CACHE (else HF_HOME/xet); the datasets library its "
                    "downloads and Arrow caches in HF_DATASETS_CACHE (else HF_HOME/datasets). "
                    "The rows come as soon as either has something.",
                )
            )
        now = self.clock()
        rows = [self._row(part, now) for part in _ordered(folders.parts)]
        width = self.content_size.width
        shown = (tuple(rows), width)
        if shown != self._shown:
            self._shown = shown
            self._fill(table, rows, width)
        self._render_totals(folders)

    def _fill(self, table: DataTable, rows: list[tuple[str, tuple[Text, ...]]], width: int) -> None:
        previous = cursor_key(table)
        table.clear(columns=True)
        # A narrow pane leaves out the files and the age, so that the part and its cleanup stay readable.
        shown = [i for i in range(len(_COLUMNS)) if width >= 100 or _COLUMNS[i][0] not in ("Files", "Changed")]
        fixed = sum(_COLUMNS[i][1] for i in shown) + len(shown) * 2 + 2
        room = max(12, (width or 120) - fixed)
        # The part's name whole when it can be; the cleanup column keeps 28 cells (20 when narrow) for its words.
        words = 28 if width >= 100 else 20
        part_width = min(max([4, *(len(cells[1].plain) for _, cells in rows)]), max(12, room - words))
        cleanup_width = max(8, room - part_width)
        for i in shown:
            label, w = _COLUMNS[i]
            table.add_column(label, width=w or (part_width if label == "Part" else cleanup_width))
        for key, cells in rows:
            name = cells[1]
            if len(name.plain) > part_width:
                name = Text(middle_cut(name.plain, part_width), style=name.style)
            table.add_row(*(name if i == 1 else cells[i] for i in shown), key=key)
        if previous is not None and previous in table.rows:
            table.move_cursor(row=table.get_row_index(previous), animate=False)
        self.post_message(self.RowsShown())

    def _row(self, part: FolderPart, now: float) -> tuple[str, tuple[Text, ...]]:
        marked = part.key in self.marks
        name = Text.assemble(("● ", "bold magenta") if marked else "", part.label)
        more = f" +{len(part.users) - 1}" if len(part.users) > 1 else ""
        used = Text(f"PID {part.users[0]}{more}", style="bold green") if part.users else Text("")
        return (
            part.key,
            (
                Text(part.area.value, style="dim"),
                name,
                right(fmt.size(part.size), 9),
                right(part.files, 6),
                used,
                _cleanup_cell(part, marked),
                Text(fmt.age_short(part.modified, now) if part.modified else ""),
            ),
        )

    def _render_totals(self, folders: HfFolders) -> None:
        plan = plan_folder_cleanup(folders, self.marks)
        narrow = 0 < self.content_size.width < 100
        parts = [
            Text(f"{_AREA_NAMES[area]} {fmt.size(folders.size(area))}", style="bold")
            for area, exists in ((Area.XET, folders.xet_exists), (Area.DATASETS, folders.datasets_exists))
            if exists
        ]
        if not parts:
            parts.append(Text("neither folder exists yet", style="dim"))
        if self.marks:
            marked = sum(p.size for p in folders.parts if p.key in self.marks)
            parts.insert(0, Text(f"{len(self.marks)} marked ({fmt.size(marked)}), d reviews", style="bold magenta"))
        if plan.frees or plan.deletable:
            parts.append(
                Text(f"cleanup frees {fmt.size(plan.frees)}{'' if narrow else ' (P reviews)'}", style="yellow")
            )
        else:
            parts.append(Text("nothing to clean up", style="dim"))
        if folders.warnings:
            parts.append(Text(fmt.count(len(folders.warnings), "folder") + " unreadable", style="bold red"))
        parts.append(Text("f: hub cache", style="dim"))
        self.query_one("#folders-totals", Static).update(Text(" · ").join(parts))


def _ordered(parts: tuple[FolderPart, ...]) -> list[FolderPart]:
    """The xet folder first, then the datasets cache; within each, largest first."""
    return sorted(parts, key=lambda p: (p.area is not Area.XET, -p.size, p.label))


def _cleanup_cell(part: FolderPart, marked: bool) -> Text:
    if part.markable:
        if part.users:
            return Text(f"in use by PID {part.users[0]}", style="yellow")
        return Text("goes (marked)", style="bold magenta") if marked else Text("Space marks", style="dim")
    if part.offered:
        count = fmt.count(len(part.offered), "file" if part.kind in (PartKind.LOGS, PartKind.LOCKS) else "item")
        frees = f"frees {fmt.size(part.offered_bytes)}"
        text = Text(f"{frees}: {count}", style="yellow")
        if part.kept:
            text.append(f"; {part.kept}", style="dim")
        return text
    return Text(part.kept or "nothing to clean", style="dim")
