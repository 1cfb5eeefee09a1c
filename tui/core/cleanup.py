"""Marks in the cache pane and the deletion plan they make.

What a deletion frees is what huggingface_hub's own `DeleteCacheStrategy.expected_freed_size`
computes (physical bytes: a blob that another revision or the Xet store still uses is not freed),
so the "will free" figure and the review dialog say what the deletion really does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from huggingface_hub import CachedFileInfo, CachedRepoInfo, DeleteCacheStrategy, HFCacheInfo


@dataclass(frozen=True)
class Mark:
    """A marked repo, revision or single file, by the keys the cache pane shows them under."""

    repo: str
    """The repo's `cache_id` (`model/org/name`)."""
    revision: str | None = None
    """A commit hash: the mark is this revision (or, with `file`, a file of it)."""
    file: str | None = None
    """The file's path in the snapshot folder: the mark is this one file."""

    @property
    def level(self) -> str:
        return "file" if self.file else "revision" if self.revision else "repo"


def toggled(marks: frozenset[Mark], mark: Mark) -> frozenset[Mark]:
    return marks - {mark} if mark in marks else marks | {mark}


@dataclass(frozen=True)
class PlanItem:
    mark: Mark
    label: str
    frees: int
    """What deleting this item alone would free."""
    refused: str | None = None
    """Why it is left out of the deletion (a live download writes into the repo; gone from the cache)."""


@dataclass(frozen=True)
class DeletionUnit:
    """What is deleted at once: one repo's marked revisions (or the whole repo), or one repo's marked files.
    A unit that cannot go (behind a link, a permission error) leaves the others to go on their own."""

    repo: str
    labels: tuple[str, ...]
    """The plan items it carries out."""
    strategy: DeleteCacheStrategy


@dataclass(frozen=True)
class DeletionPlan:
    items: tuple[PlanItem, ...]
    units: tuple[DeletionUnit, ...] = ()
    """One per repo for its revisions, one per repo for its single files, in the items' order."""

    @property
    def frees(self) -> int:
        """What the whole deletion frees. A blob shared by a marked file and a marked revision of
        the same repo is counted by neither strategy: the figure errs low, never high."""
        return sum(u.strategy.expected_freed_size for u in self.units)

    @property
    def deletable(self) -> tuple[PlanItem, ...]:
        return tuple(i for i in self.items if i.refused is None)

    def same_as(self, other: DeletionPlan) -> bool:
        """Whether two plans delete the same things and free the same bytes (the cache did not change)."""
        return self.items == other.items and self.frees == other.frees


def plan_deletion(info: HFCacheInfo, marks: frozenset[Mark], busy: dict[Path, str]) -> DeletionPlan:
    """The deletion the marks ask for. `busy` maps repo folders a live download writes into to a
    reason: deleting such a repo whole would take the download's partial file with it, so a mark
    that amounts to that is refused (its revisions and files alone may still go)."""
    repos = {r.cache_id: r for r in info.repos}
    marked_repos = {m.repo for m in marks if m.level == "repo"}
    marked_revisions = {(m.repo, m.revision) for m in marks if m.level == "revision"}
    hashes: dict[str, set[str]] = {}
    for m in marks:
        repo = repos.get(m.repo)
        if repo is None or m.level == "file":
            continue
        present = {r.commit_hash for r in repo.revisions}
        wanted = present if m.level == "repo" else {h for h in present if h == m.revision}
        hashes.setdefault(m.repo, set()).update(wanted)

    items: list[PlanItem] = []
    refused_repos: dict[str, str] = {}
    for cache_id, chosen in hashes.items():
        repo = repos[cache_id]
        # Every revision of the repo goes: huggingface_hub then deletes the whole repo folder.
        if repo.repo_path in busy and chosen == {r.commit_hash for r in repo.revisions}:
            refused_repos[cache_id] = busy[repo.repo_path]

    files: dict[str, list[CachedFileInfo]] = {}
    labels: dict[tuple[str, str], list[str]] = {}
    for m in sorted(marks, key=lambda m: (m.repo, m.revision or "", m.file or "")):
        repo = repos.get(m.repo)
        label = _label(m, repo)
        if repo is None:
            items.append(PlanItem(m, label, 0, "no longer in the cache"))
            continue
        if m.level == "repo":
            strategy = _only(info, repo).delete_revisions(*(r.commit_hash for r in repo.revisions))
            items.append(PlanItem(m, label, strategy.expected_freed_size, refused_repos.get(m.repo)))
            labels.setdefault((m.repo, "revisions"), []).append(label)
            continue
        revision = next((r for r in repo.revisions if r.commit_hash == m.revision), None)
        if revision is None:
            items.append(PlanItem(m, label, 0, "no longer in the cache"))
            continue
        if m.level == "revision":
            if m.repo in marked_repos:
                continue  # its repo is marked: the repo's item covers it
            strategy = _only(info, repo).delete_revisions(revision.commit_hash)
            items.append(PlanItem(m, label, strategy.expected_freed_size, refused_repos.get(m.repo)))
            labels.setdefault((m.repo, "revisions"), []).append(label)
            continue
        if m.repo in marked_repos or (m.repo, m.revision) in marked_revisions:
            continue
        file = next((f for f in revision.files if str(f.file_path) == m.file), None)
        if file is None:
            items.append(PlanItem(m, label, 0, "no longer in the cache"))
            continue
        files.setdefault(m.repo, []).append(file)
        labels.setdefault((m.repo, "files"), []).append(label)
        items.append(PlanItem(m, label, _only(info, repo).delete_files(file).expected_freed_size))

    units = [
        DeletionUnit(
            cache_id, tuple(labels[(cache_id, "revisions")]), _only(info, repos[cache_id]).delete_revisions(*sorted(hs))
        )
        for cache_id, hs in sorted(hashes.items())
        if cache_id not in refused_repos and hs
    ]
    units += [
        DeletionUnit(cache_id, tuple(labels[(cache_id, "files")]), _only(info, repos[cache_id]).delete_files(*chosen))
        for cache_id, chosen in sorted(files.items())
    ]
    return DeletionPlan(items=tuple(items), units=tuple(units))


def _only(info: HFCacheInfo, repo: CachedRepoInfo) -> HFCacheInfo:
    """The cache as huggingface_hub's plans should see it for one repo's items: that repo alone. Its
    `delete_revisions` looks for a commit hash in every repo (a fork, or the same model under a second
    name, shares them), and its `delete_files` reads every file of the cache to find a blob's other users,
    which are all in the blob's own repo."""
    return replace(info, repos=frozenset({repo}))


def _label(mark: Mark, repo: CachedRepoInfo | None) -> str:
    name = mark.repo
    if mark.level == "repo":
        return f"{name} (whole repo)"
    assert mark.revision is not None, "a revision or file mark names its revision"
    revision = f"{name} @ {mark.revision[:12]}"
    if not mark.file:  # a revision mark
        return revision
    if repo is not None:
        snapshot = repo.repo_path / "snapshots" / str(mark.revision)
        try:
            return f"{revision} {Path(mark.file).relative_to(snapshot)}"
        except ValueError:
            pass
    return f"{revision} {Path(mark.file).name}"
