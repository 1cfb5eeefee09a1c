"""How marks become a deletion plan (on the demo cache's scan; nothing is deleted here)."""

from __future__ import annotations

import shutil

from huggingface_hub import scan_cache_dir

from tui.core.cleanup import Mark, plan_deletion, toggled
from tui.probes.cache_scan import scan_cache

BERT = "model/hftop-demo/tiny-bert"


def _revisions(info, cache_id):
    repo = next(r for r in info.repos if r.cache_id == cache_id)
    return repo, sorted(repo.revisions, key=lambda r: r.last_modified)


def test_toggling():
    mark = Mark(BERT)
    assert toggled(toggled(frozenset(), mark), mark) == frozenset()


def test_a_marked_repo_covers_its_marked_revisions_and_files(demo_cache):
    info = scan_cache_dir(demo_cache)
    repo, (old, new) = _revisions(info, BERT)
    file = next(iter(new.files))
    marks = frozenset({Mark(BERT), Mark(BERT, old.commit_hash), Mark(BERT, new.commit_hash, str(file.file_path))})
    plan = plan_deletion(info, marks, {})
    assert [i.mark for i in plan.items] == [Mark(BERT)]
    assert plan.frees == repo.size_on_disk and [u.strategy.repos for u in plan.units] == [{repo.repo_path}]


def test_a_file_inside_a_marked_revision_is_not_counted_twice(demo_cache):
    info = scan_cache_dir(demo_cache)
    _, (old, _) = _revisions(info, BERT)
    file = next(iter(old.files))
    plan = plan_deletion(
        info, frozenset({Mark(BERT, old.commit_hash), Mark(BERT, old.commit_hash, str(file.file_path))}), {}
    )
    assert [i.mark.level for i in plan.items] == ["revision"]
    assert plan.frees == info.delete_revisions(old.commit_hash).expected_freed_size


def test_marks_of_what_is_gone_are_kept_out(demo_cache):
    info = scan_cache_dir(demo_cache)
    plan = plan_deletion(info, frozenset({Mark("model/nobody/nothing"), Mark(BERT, "0" * 40)}), {})
    assert plan.deletable == () and plan.frees == 0
    assert {i.refused for i in plan.items} == {"no longer in the cache"}


def test_a_busy_repo_keeps_its_folder_but_may_lose_a_revision(demo_cache):
    info = scan_cache_dir(demo_cache)
    repo, (old, new) = _revisions(info, BERT)
    busy = {repo.repo_path: "a download (PID 7) is writing into it"}
    whole = plan_deletion(info, frozenset({Mark(BERT)}), busy)
    assert whole.deletable == () and whole.units == () and whole.items[0].refused == busy[repo.repo_path]
    both = plan_deletion(info, frozenset({Mark(BERT, old.commit_hash), Mark(BERT, new.commit_hash)}), busy)
    assert both.deletable == ()
    one = plan_deletion(info, frozenset({Mark(BERT, old.commit_hash)}), busy)
    [unit] = one.units
    assert one.deletable and unit.strategy.repos == frozenset() and unit.strategy.snapshots == {old.snapshot_path}


def test_each_repo_is_a_unit_of_its_own(demo_cache):
    info = scan_cache_dir(demo_cache)
    repo, (old, new) = _revisions(info, BERT)
    llama = next(r for r in info.repos if r.repo_id == "hftop-demo/llama-mini")
    file = next(iter(next(iter(llama.revisions)).files))
    marks = frozenset(
        {
            Mark(BERT, old.commit_hash),
            Mark(BERT, new.commit_hash),
            Mark(llama.cache_id, next(iter(llama.revisions)).commit_hash, str(file.file_path)),
        }
    )
    plan = plan_deletion(info, marks, {})
    assert [(u.repo, len(u.labels)) for u in plan.units] == [(BERT, 2), (llama.cache_id, 1)]
    # Both revisions of one repo in one unit: their shared blob goes with them (the repo folder goes whole).
    assert plan.units[0].strategy.repos == {repo.repo_path}


def test_a_revision_is_deleted_from_its_own_repo_only(demo_cache):
    # A fork, or the same model under a second name, has the same commit hashes: marking a revision of one
    # must not take the other's (huggingface_hub's delete_revisions looks for the hash in every repo).
    shutil.copytree(
        demo_cache / "models--hftop-demo--tiny-bert", demo_cache / "models--hftop-demo--tiny-bert-fork", symlinks=True
    )
    for info in (scan_cache_dir(demo_cache), scan_cache(demo_cache).info):
        repo, (old, new) = _revisions(info, BERT)
        file = next(iter(new.files))
        marks = frozenset({Mark(BERT, old.commit_hash), Mark(BERT, new.commit_hash, str(file.file_path))})
        plan = plan_deletion(info, marks, {})
        touched = {p for u in plan.units for p in (*u.strategy.snapshots, *u.strategy.blobs, *u.strategy.files)}
        assert touched and all(repo.repo_path in p.parents for p in touched), touched
        whole = plan_deletion(info, frozenset({Mark(BERT)}), {})
        assert [u.strategy.repos for u in whole.units] == [{repo.repo_path}]


def test_a_plan_from_hftops_scan_is_huggingface_hubs_plan(demo_cache):
    ours, theirs = scan_cache(demo_cache).info, scan_cache_dir(demo_cache)
    _, (old, new) = _revisions(theirs, BERT)
    file = str(next(iter(new.files)).file_path)
    marks = frozenset(
        {Mark(BERT, old.commit_hash), Mark(BERT, new.commit_hash, file), Mark("dataset/hftop-demo/squad-mini")}
    )
    assert plan_deletion(ours, marks, {}) == plan_deletion(theirs, marks, {})
