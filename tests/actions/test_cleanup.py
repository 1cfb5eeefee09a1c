"""Deleting from caches built by real downloads: what the plan announces is what the filesystem frees,
a live download's repo is never deleted whole, and nothing outside the cache is touched."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tui.actions.cleanup import PlanChanged, execute_deletion, outside_paths
from tui.core.cleanup import Mark, plan_deletion
from tui.probes.cache_scan import scan_cache
from tui.probes.cleanup import busy_repos, current_plan
from tui.probes.partials import find_partials


def disk_usage(folder: Path) -> int:
    """Bytes the folder takes on disk, each inode once, links not followed (what `du` counts)."""
    seen, total = set(), 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def _shared_payloads(folder: Path) -> list[Path]:
    """Xet files in the shared blob store (`blobs/<2 hex>/<xet hash>`), without their manifests and locks."""
    return [p for p in folder.glob("blobs/??/*") if p.suffix not in (".refs", ".lock") and not p.is_symlink()]


def _blob_bytes(folder: Path) -> int:
    """The blob files alone: what DeleteCacheStrategy counts (folders and links are not), in the repos'
    folders and in the shared store their links point into."""
    return sum(
        os.lstat(e.path).st_blocks * 512
        for repo in folder.glob("*--*")
        for e in os.scandir(repo / "blobs")
        if not e.is_symlink() and not e.name.endswith(".incomplete")
    ) + sum(p.lstat().st_blocks * 512 for p in _shared_payloads(folder))


def _blob_count(folder: Path) -> int:
    return sum(
        1 for repo in folder.glob("*--*") for e in os.scandir(repo / "blobs") if not e.name.endswith(".incomplete")
    ) + len(_shared_payloads(folder))


def _info(cache):
    return scan_cache(cache).info


def _revision(info, cache_id, index=0):
    repo = next(r for r in info.repos if r.cache_id == cache_id)
    return sorted(repo.revisions, key=lambda r: r.last_modified)[index]


@pytest.mark.parametrize(
    "marks_of",
    [
        pytest.param(lambda info: {Mark("model/hftop-demo/whisper-small")}, id="repo"),
        pytest.param(
            lambda info: {
                Mark("model/hftop-demo/tiny-bert", _revision(info, "model/hftop-demo/tiny-bert").commit_hash)
            },
            id="revision-sharing-a-blob",
        ),
        pytest.param(
            lambda info: {
                Mark(
                    "model/hftop-demo/llama-mini",
                    (rev := _revision(info, "model/hftop-demo/llama-mini")).commit_hash,
                    str(next(f.file_path for f in rev.files if f.file_name.startswith("model-00002"))),
                )
            },
            id="single-file",
        ),
    ],
)
def test_what_the_plan_announces_is_what_is_freed(demo_cache, marks_of):
    info = _info(demo_cache)
    marks = frozenset(marks_of(info))
    plan = current_plan(info, marks, demo_cache)
    assert plan.frees > 0 and all(item.refused is None for item in plan.items)
    before, blobs_before = _blob_bytes(demo_cache), _blob_count(demo_cache)
    outcome = execute_deletion(plan, marks, _info(demo_cache), demo_cache)
    assert outcome.errors == ()
    # huggingface_hub counts file sizes; the filesystem frees whole blocks: at most one more per blob.
    blobs_gone = blobs_before - _blob_count(demo_cache)
    measured = before - _blob_bytes(demo_cache)
    assert blobs_gone > 0 and plan.frees <= measured < plan.frees + 4096 * blobs_gone
    # The freed figure is what the filesystem freed: the blobs, and the refs and links that went with them.
    assert measured <= outcome.freed <= measured + 64 * 1024
    assert len(scan_cache(demo_cache).info.warnings) == len(info.warnings), "no new corrupted repo"


def test_a_blob_shared_by_two_revisions_stays(demo_cache):
    info = _info(demo_cache)
    old = _revision(info, "model/hftop-demo/tiny-bert", 0)
    new = _revision(info, "model/hftop-demo/tiny-bert", 1)
    shared = {f.blob_path for f in old.files} & {f.blob_path for f in new.files}
    assert shared, "the demo's tiny-bert shares config.json between its revisions"
    marks = frozenset({Mark("model/hftop-demo/tiny-bert", old.commit_hash)})
    plan = current_plan(info, marks, demo_cache)
    assert plan.frees == sum(f.size_on_disk for f in old.files if f.blob_path not in shared)
    execute_deletion(plan, marks, _info(demo_cache), demo_cache)
    assert all(p.exists() for p in shared)


def test_a_changed_cache_gives_a_new_plan_instead_of_a_blind_deletion(demo_cache):
    info = _info(demo_cache)
    marks = frozenset({Mark("model/hftop-demo/tiny-bert")})
    shown = current_plan(info, marks, demo_cache)
    # Another program deletes one of its revisions meanwhile.
    info.delete_revisions(_revision(info, "model/hftop-demo/tiny-bert", 0).commit_hash).execute()
    with pytest.raises(PlanChanged) as changed:
        execute_deletion(shown, marks, _info(demo_cache), demo_cache)
    assert changed.value.plan.frees < shown.frees
    assert (demo_cache / "models--hftop-demo--tiny-bert").exists(), "nothing was deleted on the stale plan"


def test_the_repo_of_a_live_download_is_never_deleted_whole(outside_downloader):
    proc, cache = outside_downloader
    deadline = time.monotonic() + 30
    # Held by the devhub at 10 MiB: from then on the cache stands still while the process lives.
    while not any(p.owners and p.real_bytes >= 10 * 1024 * 1024 for p in find_partials(cache)) or not (
        _info(cache) and _info(cache).repos
    ):
        assert time.monotonic() < deadline, "the outside download did not start"
        time.sleep(0.2)
    [partial] = find_partials(cache)
    info = _info(cache)
    repo = info.repos and next(iter(info.repos))
    assert busy_repos(cache) == {repo.repo_path: f"a download (PID {proc.pid}) is writing into it"}
    for marks in ({Mark(repo.cache_id)}, {Mark(repo.cache_id, r.commit_hash) for r in repo.revisions}):
        plan = current_plan(info, frozenset(marks), cache)
        assert plan.deletable == () and plan.units == ()
        assert all("PID" in item.refused for item in plan.items)
        execute_deletion(plan, frozenset(marks), _info(cache), cache)
    assert partial.path.exists() and proc.poll() is None


def test_nothing_outside_the_cache_is_deleted_through_a_link(demo_cache, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    info = _info(demo_cache)
    rev = _revision(info, "model/hftop-demo/tiny-bert", 0)
    mark = frozenset({Mark("model/hftop-demo/tiny-bert", rev.commit_hash)})
    plan = plan_deletion(info, mark, {})
    # The revision's snapshot folder is replaced by a link to a folder outside the cache.
    rev.snapshot_path.rename(rev.snapshot_path.with_name("moved"))
    rev.snapshot_path.symlink_to(precious, target_is_directory=True)
    assert outside_paths(plan.units[0].strategy, demo_cache) == [rev.snapshot_path]
    outcome = execute_deletion(plan, mark, info, demo_cache)
    assert outcome.errors and "behind a link" in outcome.errors[0]
    assert (precious / "keep.txt").read_text() == "mine"


def test_what_cannot_be_deleted_is_reported_and_the_rest_goes(demo_cache):
    import subprocess

    info = _info(demo_cache)
    whisper = next(r for r in info.repos if r.repo_id == "hftop-demo/whisper-small")
    squad = next(r for r in info.repos if r.repo_id == "hftop-demo/squad-mini")
    stuck = next(iter(next(iter(whisper.revisions)).files)).blob_path
    # An immutable file: even root cannot delete it, as a file on a read-only mount or another's would be.
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        marks = frozenset({Mark(whisper.cache_id), Mark(squad.cache_id)})
        outcome = execute_deletion(current_plan(info, marks, demo_cache), marks, info, demo_cache)
        assert len(outcome.errors) == 1 and "permission denied" in outcome.errors[0]
        assert not squad.repo_path.exists() and stuck.exists()
        [kept, went] = sorted(outcome.items, key=lambda i: not i.errors)
        assert "whisper-small" in kept.labels[0] and "squad-mini" in went.labels[0] and went.errors == ()
        assert went.freed > 0 and outcome.freed == kept.freed + went.freed
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=False)


def test_a_repo_behind_a_link_is_refused_and_the_healthy_one_beside_it_goes(demo_cache, tmp_path):
    info = _info(demo_cache)
    healthy = next(r for r in info.repos if r.repo_id == "hftop-demo/squad-mini")
    linked = next(r for r in info.repos if r.repo_id == "hftop-demo/tiny-bert")
    marks = frozenset({Mark(healthy.cache_id), Mark(linked.cache_id)})
    plan = plan_deletion(info, marks, {})
    # The repo folder is moved out of the cache and a link left in its place.
    elsewhere = tmp_path / "elsewhere"
    linked.repo_path.rename(elsewhere)
    linked.repo_path.symlink_to(elsewhere, target_is_directory=True)
    before = disk_usage(demo_cache)
    outcome = execute_deletion(plan, marks, info, demo_cache)
    # What the filesystem freed, its files (the folders' own blocks are not counted).
    measured = before - disk_usage(demo_cache)
    assert not healthy.repo_path.exists() and elsewhere.is_dir() and any(elsewhere.rglob("*"))
    refused = next(i for i in outcome.items if i.errors)
    assert "tiny-bert" in refused.labels[0] and "behind a link" in refused.errors[0] and refused.freed == 0
    went = next(i for i in outcome.items if not i.errors)
    assert "squad-mini" in went.labels[0]
    assert 0 < outcome.freed <= measured < outcome.freed + 64 * 1024


DELETE_AS_USER = """
import json, sys
from pathlib import Path
from tui.actions.cleanup import execute_deletion
from tui.core.cleanup import Mark
from tui.probes.cache_scan import scan_cache
from tui.probes.cleanup import current_plan
cache = Path(sys.argv[1])
info = scan_cache(cache).info
marks = frozenset(Mark(m) for m in sys.argv[2:])
outcome = execute_deletion(current_plan(info, marks, cache), marks, info, cache)
print(json.dumps({"freed": outcome.freed, "items": [[i.labels, i.freed, i.errors] for i in outcome.items]}))
"""


def test_as_a_user_without_write_access_each_repo_is_deleted_or_refused_on_its_own(unprivileged):
    import json

    cache = unprivileged.cache
    mine = cache / "datasets--hftop-demo--squad-mini"
    theirs = cache / "models--hftop-demo--whisper-small"
    if unprivileged.dropped:  # the user owns the cache folder and one repo; the other repo is root's
        unprivileged.give(cache, recursive=False)
        unprivileged.give(mine)
    else:  # as anyone else: a repo whose folders are read-only
        for top, _dirs, _ in os.walk(theirs):
            os.chmod(top, 0o555)
    ran = unprivileged.run(
        DELETE_AS_USER, str(cache), "dataset/hftop-demo/squad-mini", "model/hftop-demo/whisper-small"
    )
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    outcome = json.loads(ran.stdout)
    by_repo = {labels[0].split(" ")[0]: (freed, errors) for labels, freed, errors in outcome["items"]}
    assert not mine.exists() and by_repo["dataset/hftop-demo/squad-mini"][1] == []
    assert by_repo["dataset/hftop-demo/squad-mini"][0] > 0
    freed, errors = by_repo["model/hftop-demo/whisper-small"]
    assert theirs.is_dir() and any(theirs.rglob("*")) and errors and "ermission denied" in " ".join(errors)
    assert outcome["freed"] == by_repo["dataset/hftop-demo/squad-mini"][0] + freed, "what went, not what was hoped"
