"""The xet folder and the datasets cache as parts (logs, shard caches, staging, downloads, Arrow caches…),
and what a cleanup of them deletes: what nothing uses, plus the Arrow caches the user marked."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Area(Enum):
    XET = "xet"
    DATASETS = "datasets"


class PartKind(Enum):
    LOGS = "logs"
    SHARD_CACHE = "shard cache"
    STAGING = "staging"
    CHUNK_CACHE = "chunk cache"
    DOWNLOADS = "downloads"
    EXTRACTED = "extracted"
    ARROW = "Arrow cache"
    LOCKS = "lock files"
    OTHER = "other"


@dataclass(frozen=True)
class FolderPart:
    """One part of the xet folder or the datasets cache, one row of the pane."""

    area: Area
    kind: PartKind
    label: str
    path: Path
    size: int
    """Bytes of the files in it (as `du --apparent-size` counts them)."""
    files: int
    modified: float
    """The newest modification time in it (epoch seconds; 0 when empty)."""
    users: tuple[int, ...] = ()
    """Live processes that have a file of it open or mapped, hold its lock, or (logs) write it."""
    offered: tuple[Path, ...] = ()
    """What a cleanup deletes of it now; never anything a live process uses."""
    offered_bytes: int = 0
    kept: str = ""
    """Why nothing (or not all) of it is offered, in words; empty when there is no reason to say."""

    @property
    def key(self) -> str:
        """Unique among the parts (the lock files and the other files of a folder share its path)."""
        return f"{self.kind.name.lower()}:{self.path}"

    @property
    def markable(self) -> bool:
        """Only an Arrow cache goes by the user's mark: the rest is offered by the rules alone."""
        return self.kind is PartKind.ARROW


@dataclass(frozen=True)
class HfFolders:
    """What the xet folder and the datasets cache hold now."""

    xet_dir: Path
    datasets_dir: Path
    parts: tuple[FolderPart, ...] = ()
    warnings: tuple[str, ...] = ()
    xet_exists: bool = False
    datasets_exists: bool = False

    def size(self, area: Area) -> int:
        return sum(p.size for p in self.parts if p.area is area)

    def part(self, key: str) -> FolderPart | None:
        return next((p for p in self.parts if p.key == key), None)


@dataclass(frozen=True)
class FolderCleanupItem:
    label: str
    paths: tuple[Path, ...]
    frees: int
    area: Area
    refused: str = ""
    """Why a marked part is kept (a live process uses it); empty when it goes."""


@dataclass(frozen=True)
class FolderCleanupPlan:
    items: tuple[FolderCleanupItem, ...]

    @property
    def deletable(self) -> tuple[FolderCleanupItem, ...]:
        return tuple(i for i in self.items if not i.refused and i.paths)

    @property
    def frees(self) -> int:
        return sum(i.frees for i in self.deletable)

    def same_as(self, other: FolderCleanupPlan) -> bool:
        """The same paths go (sizes may have moved a little)."""
        return {(i.label, i.paths, i.refused) for i in self.items} == {
            (i.label, i.paths, i.refused) for i in other.items
        }


def plan_folder_cleanup(
    folders: HfFolders, marks: frozenset[str] = frozenset(), marked_only: bool = False
) -> FolderCleanupPlan:
    """Every part's offered paths and the marked Arrow caches (refused when a live process uses one);
    with `marked_only`, the marked caches alone."""
    items = []
    for part in folders.parts:
        if part.markable:
            if part.key not in marks:
                continue
            refused = _in_use(part.users) if part.users else part.kept
            items.append(
                FolderCleanupItem(f"{part.area.value}: {part.label}", (part.path,), part.size, part.area, refused)
            )
        elif part.offered and not marked_only:
            items.append(
                FolderCleanupItem(f"{part.area.value}: {part.label}", part.offered, part.offered_bytes, part.area)
            )
    return FolderCleanupPlan(tuple(items))


def _in_use(pids: tuple[int, ...]) -> str:
    listed = ", ".join(str(p) for p in pids[:3]) + ("…" if len(pids) > 3 else "")
    return f"in use by PID {listed}"
