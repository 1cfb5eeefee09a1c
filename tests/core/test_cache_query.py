"""The filter grammar and sort orders, on hand-built cache records with an explicit `now`."""

from pathlib import Path

import pytest
from huggingface_hub import CachedFileInfo, CachedRepoInfo, CachedRevisionInfo

from tui.core.cache_query import (
    CacheSort,
    FilterError,
    SortKey,
    filter_files,
    filter_repos,
    filter_revisions,
    parse_filter,
    sort_files,
    sort_repos,
    sort_revisions,
)

NOW = 1_800_000_000.0
DAY = 86400.0
GB = 1_000_000_000


def _revision(commit: str, size: int, refs=(), modified=NOW, files=()) -> CachedRevisionInfo:
    return CachedRevisionInfo(
        commit_hash=commit,
        snapshot_path=Path("/c/snapshots") / commit,
        size_on_disk=size,
        files=frozenset(files),
        refs=frozenset(refs),
        last_modified=modified,
    )


def _repo(repo_id: str, size: int, repo_type="model", accessed_days=0.0, modified_days=0.0, refs=("main",)):
    rev = _revision(f"{abs(hash(repo_id)):040x}"[:40], size, refs, NOW - modified_days * DAY)
    return CachedRepoInfo(
        repo_id=repo_id,
        repo_type=repo_type,
        repo_path=Path(f"/c/{repo_type}s--{repo_id.replace('/', '--')}"),
        size_on_disk=size,
        nb_files=1,
        revisions=frozenset({rev}),
        last_accessed=NOW - accessed_days * DAY,
        last_modified=NOW - modified_days * DAY,
    )


REPOS = [
    _repo("meta-llama/Llama-3-8B", 16 * GB, accessed_days=40, modified_days=90),
    _repo("google/bert-base", int(0.4 * GB), accessed_days=1, modified_days=2),
    _repo("openai/whisper-small", int(0.9 * GB), accessed_days=10, modified_days=10, refs=()),
    _repo("squad", int(0.05 * GB), repo_type="dataset", accessed_days=3, modified_days=3),
]


def ids(repos):
    return [r.repo_id for r in repos]


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("", ["meta-llama/Llama-3-8B", "google/bert-base", "openai/whisper-small", "squad"], id="empty"),
        pytest.param("size>1GB", ["meta-llama/Llama-3-8B"], id="size-greater"),
        pytest.param("size<1GB", ["google/bert-base", "openai/whisper-small", "squad"], id="size-less"),
        pytest.param("size > 500MB", ["meta-llama/Llama-3-8B", "openai/whisper-small"], id="spaces-around-operator"),
        pytest.param("accessed>30d", ["meta-llama/Llama-3-8B"], id="accessed-older"),
        pytest.param("modified<7d", ["google/bert-base", "squad"], id="modified-newer"),
        pytest.param("type=dataset", ["squad"], id="type"),
        pytest.param("TYPE=Model size>500MB", ["meta-llama/Llama-3-8B", "openai/whisper-small"], id="and-of-terms"),
        pytest.param("refs=main", ["meta-llama/Llama-3-8B", "google/bert-base", "squad"], id="refs"),
        pytest.param("bert", ["google/bert-base"], id="substring"),
        pytest.param("GOOGLE", ["google/bert-base"], id="substring-case-insensitive"),
        pytest.param("model/ size<1GB", ["google/bert-base", "openai/whisper-small"], id="substring-of-cache-id"),
        pytest.param("whisper accessed>30d", [], id="word-and-term-none"),
    ],
)
def test_filter_repos(text, expected):
    assert ids(filter_repos(REPOS, parse_filter(text), NOW)) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("size>lots", "Invalid value", id="bad-size"),
        pytest.param("colour=red", "Unsupported filter key", id="unknown-key"),
        pytest.param("type>model", "Only '='", id="bad-operator-for-type"),
        pytest.param("accessed>3fortnights", "Unknown unit", id="bad-duration"),
        pytest.param(">1GB", "key, operator, value", id="missing-key"),
        pytest.param("size=>1GB", "Invalid value", id="doubled-operator"),
    ],
)
def test_bad_filters_say_why(text, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


@pytest.mark.parametrize(
    "start, pressed, expected",
    [
        pytest.param(CacheSort(), SortKey.SIZE, CacheSort(SortKey.SIZE, False), id="same-key-reverses"),
        pytest.param(CacheSort(SortKey.SIZE, False), SortKey.SIZE, CacheSort(SortKey.SIZE, True), id="and-back"),
        pytest.param(CacheSort(), SortKey.NAME, CacheSort(SortKey.NAME, False), id="name-starts-ascending"),
        pytest.param(
            CacheSort(SortKey.NAME), SortKey.ACCESSED, CacheSort(SortKey.ACCESSED, True), id="time-starts-newest"
        ),
    ],
)
def test_sort_toggle(start, pressed, expected):
    assert start.pressed(pressed) == expected


@pytest.mark.parametrize(
    "order, expected",
    [
        pytest.param(
            CacheSort(), ["meta-llama/Llama-3-8B", "openai/whisper-small", "google/bert-base", "squad"], id="size-desc"
        ),
        pytest.param(
            CacheSort(SortKey.SIZE, False),
            ["squad", "google/bert-base", "openai/whisper-small", "meta-llama/Llama-3-8B"],
            id="size-asc",
        ),
        pytest.param(
            CacheSort(SortKey.NAME, False),
            ["squad", "google/bert-base", "meta-llama/Llama-3-8B", "openai/whisper-small"],
            id="name-by-cache-id",
        ),
        pytest.param(
            CacheSort(SortKey.ACCESSED, True),
            ["google/bert-base", "squad", "openai/whisper-small", "meta-llama/Llama-3-8B"],
            id="accessed-newest-first",
        ),
        pytest.param(
            CacheSort(SortKey.MODIFIED, False),
            ["meta-llama/Llama-3-8B", "openai/whisper-small", "squad", "google/bert-base"],
            id="modified-oldest-first",
        ),
    ],
)
def test_sort_repos(order, expected):
    assert ids(sort_repos(REPOS, order)) == expected


def test_revisions_filter_and_sort():
    repo = REPOS[0]
    old = _revision("a" * 40, 5 * GB, (), NOW - 50 * DAY)
    new = _revision("b" * 40, 7 * GB, ("main", "v2"), NOW - DAY)
    revisions = [old, new]
    assert [r.commit_hash[0] for r in sort_revisions(revisions, CacheSort())] == ["b", "a"]
    assert [r.commit_hash[0] for r in sort_revisions(revisions, CacheSort(SortKey.MODIFIED, False))] == ["a", "b"]
    assert filter_revisions(repo, revisions, parse_filter("modified>7d"), NOW) == [old]
    assert filter_revisions(repo, revisions, parse_filter("v2"), NOW) == [new]
    assert filter_revisions(repo, revisions, parse_filter("refs=v2"), NOW) == [new]


def test_files_filter_and_sort():
    snap = Path("/c/snapshots/abc")

    def f(path, size):
        return CachedFileInfo(
            file_name=Path(path).name,
            file_path=snap / path,
            blob_path=Path("/c/blobs") / path.replace("/", "_"),
            size_on_disk=size,
            blob_last_accessed=NOW,
            blob_last_modified=NOW,
        )

    files = [f("config.json", 500), f("onnx/model.onnx", 9000), f("model.safetensors", 8000)]
    rev = _revision("abc", 17500, files=files)
    rev = CachedRevisionInfo(**{**rev.__dict__, "snapshot_path": snap})
    assert [x.file_name for x in sort_files(files, CacheSort(), rev)] == [
        "model.onnx",
        "model.safetensors",
        "config.json",
    ]
    assert [x.file_name for x in sort_files(files, CacheSort(SortKey.NAME, False), rev)] == [
        "config.json",
        "model.safetensors",
        "model.onnx",
    ]
    assert [x.file_name for x in filter_files(files, parse_filter("onnx"))] == ["model.onnx"]
    # Key terms apply to repos and revisions; in a file list only the words count.
    assert len(filter_files(files, parse_filter("size>1GB"))) == 3
