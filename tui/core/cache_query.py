"""Which cache entries the user sees and in what order: the filter grammar and the sort orders.

The filter takes the terms `hf cache ls --filter` knows (`size>1GB`, `accessed>30d`, `modified<7d`,
`type=model`, `refs=main`), all of which must hold, plus plain words that must appear in the repo id.
The key terms are compiled by huggingface_hub's own `compile_cache_filter`, so a term means exactly
what it means to `hf cache ls`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from huggingface_hub import CachedFileInfo, CachedRepoInfo, CachedRevisionInfo
from huggingface_hub.cli.cache import compile_cache_filter

_TERM = re.compile(r"[A-Za-z_]+\s*(?:==|!=|>=|<=|>|<|=)\s*\S+|\S+")
_KEY_TERM = re.compile(r"[A-Za-z_]+\s*(?:==|!=|>=|<=|>|<|=)")


_EXAMPLES = "size>1GB, accessed>30d, modified<7d, type=model, refs=main, or part of a repo id"


class FilterError(ValueError):
    """A filter the user typed that cannot be understood; the message says why."""


@dataclass(frozen=True)
class CacheFilter:
    text: str = ""
    terms: tuple[str, ...] = ()
    """Key terms, e.g. `size>1GB`."""
    words: tuple[str, ...] = ()
    """Plain words, matched case-insensitively against the repo id (and file paths in a revision)."""

    @property
    def is_empty(self) -> bool:
        return not self.terms and not self.words


def parse_filter(text: str) -> CacheFilter:
    """Parse what the user typed after `/`. Raises FilterError with a message fit for the screen."""
    terms: list[str] = []
    words: list[str] = []
    for token in _TERM.findall(text.strip()):
        if _KEY_TERM.match(token):
            term = re.sub(r"\s+", "", token)
            try:
                compile_cache_filter(term, {})
            except ValueError as e:
                raise FilterError(f"{term}: {e} Examples: {_EXAMPLES}") from None
            terms.append(term)
        elif any(op in token for op in "<>=!"):
            raise FilterError(f"Cannot read {token!r}: a filter term is key, operator, value. Examples: {_EXAMPLES}")
        else:
            words.append(token.lower())
    return CacheFilter(text=text.strip(), terms=tuple(terms), words=tuple(words))


def filter_repos(repos: list[CachedRepoInfo], query: CacheFilter, now: float) -> list[CachedRepoInfo]:
    if query.is_empty:
        return list(repos)
    refs_map = {repo: frozenset(ref for rev in repo.revisions for ref in rev.refs) for repo in repos}
    tests = [compile_cache_filter(term, refs_map) for term in query.terms]
    return [
        repo
        for repo in repos
        if all(word in repo.cache_id.lower() for word in query.words) and all(t(repo, None, now) for t in tests)
    ]


def filter_revisions(
    repo: CachedRepoInfo, revisions: list[CachedRevisionInfo], query: CacheFilter, now: float
) -> list[CachedRevisionInfo]:
    """Key terms apply per revision, as with `hf cache ls --revisions`; words match the hash or a ref."""
    if query.is_empty:
        return list(revisions)
    tests = [compile_cache_filter(term, {}) for term in query.terms]

    def words_match(rev: CachedRevisionInfo) -> bool:
        haystack = " ".join([rev.commit_hash, *rev.refs]).lower()
        return all(w in haystack for w in query.words)

    return [r for r in revisions if words_match(r) and all(t(repo, r, now) for t in tests)]


def filter_files(files: list[CachedFileInfo], query: CacheFilter) -> list[CachedFileInfo]:
    """Only the plain words apply to files (their path in the revision)."""
    if not query.words:
        return list(files)
    return [f for f in files if all(w in f.file_path.as_posix().lower() for w in query.words)]


class SortKey(enum.Enum):
    SIZE = "size"
    ACCESSED = "accessed"
    MODIFIED = "modified"
    NAME = "name"

    @property
    def descending_by_default(self) -> bool:
        # As `hf cache ls --sort`: biggest and newest first, names alphabetical.
        return self is not SortKey.NAME


@dataclass(frozen=True)
class CacheSort:
    key: SortKey = SortKey.SIZE
    descending: bool = True

    def pressed(self, key: SortKey) -> CacheSort:
        """The order after the user asks for `key`: the same key again reverses it."""
        if key is self.key:
            return CacheSort(key, not self.descending)
        return CacheSort(key, key.descending_by_default)

    @property
    def label(self) -> str:
        return f"{self.key.value} {'↓' if self.descending else '↑'}"


def sort_repos(repos: list[CachedRepoInfo], order: CacheSort) -> list[CachedRepoInfo]:
    keys = {
        SortKey.SIZE: lambda r: (r.size_on_disk, r.cache_id.lower()),
        SortKey.ACCESSED: lambda r: (r.last_accessed, r.cache_id.lower()),
        SortKey.MODIFIED: lambda r: (r.last_modified, r.cache_id.lower()),
        SortKey.NAME: lambda r: (r.cache_id.lower(),),
    }
    return sorted(repos, key=keys[order.key], reverse=order.descending)


def sort_revisions(revisions: list[CachedRevisionInfo], order: CacheSort) -> list[CachedRevisionInfo]:
    # A revision has no access time of its own (blobs are shared): "accessed" falls back to modified.
    keys = {
        SortKey.SIZE: lambda r: (r.size_on_disk, r.commit_hash),
        SortKey.ACCESSED: lambda r: (r.last_modified, r.commit_hash),
        SortKey.MODIFIED: lambda r: (r.last_modified, r.commit_hash),
        SortKey.NAME: lambda r: (" ".join(sorted(r.refs)) or "~", r.commit_hash),
    }
    return sorted(revisions, key=keys[order.key], reverse=order.descending)


def relative_path(file: CachedFileInfo, revision: CachedRevisionInfo) -> str:
    try:
        return file.file_path.relative_to(revision.snapshot_path).as_posix()
    except ValueError:
        return file.file_name


def sort_files(files: list[CachedFileInfo], order: CacheSort, revision: CachedRevisionInfo) -> list[CachedFileInfo]:
    keys = {
        SortKey.SIZE: lambda f: (f.size_on_disk, relative_path(f, revision)),
        SortKey.ACCESSED: lambda f: (f.blob_last_accessed, relative_path(f, revision)),
        SortKey.MODIFIED: lambda f: (f.blob_last_modified, relative_path(f, revision)),
        SortKey.NAME: lambda f: (relative_path(f, revision).lower(),),
    }
    return sorted(files, key=keys[order.key], reverse=order.descending)
