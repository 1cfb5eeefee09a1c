"""The cache probe on caches built by real huggingface_hub downloads from the devhub."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from functools import partial

import pytest
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
from huggingface_hub.utils._shared_blobs import try_link_from_shared_store

from tui.devhub import demo_cache as demo_cache_builder
from tui.devhub.synthetic import build_synthetic_cache
from tui.probes import cache_scan
from tui.probes.cache_scan import CacheChanges, CacheScanner, cache_fingerprint, partial_sizes, scan_cache
from tui.probes.disk import disk_space


def _repo(info, cache_id):
    return next(r for r in info.repos if r.cache_id == cache_id)


def test_scan_sees_what_huggingface_hub_sees(demo_cache):
    scan = scan_cache(demo_cache)
    reference = scan_cache_dir(demo_cache)
    assert scan.error is None and not scan.missing
    assert scan.info.size_on_disk == reference.size_on_disk
    assert {(r.cache_id, r.size_on_disk) for r in scan.info.repos} == {
        (r.cache_id, r.size_on_disk) for r in reference.repos
    }
    assert {r.cache_id for r in scan.info.repos} >= {
        "model/hftop-demo/tiny-bert",
        "model/hftop-demo/llama-mini",
        "dataset/hftop-demo/squad-mini",
        "space/hftop-demo/chat-space",
    }


def _fields(repos):
    """Every field of every repo, revision and file, as plain values: hftop's revisions build their files
    when asked, and compare as revisions, not file by file."""
    return {
        (
            *(getattr(repo, f.name) for f in dataclasses.fields(repo) if f.name != "revisions"),
            frozenset(
                (*(getattr(rev, f.name) for f in dataclasses.fields(rev)), rev.nb_files) for rev in repo.revisions
            ),
        )
        for repo in repos
    }


def _assert_same_as_scan_cache_dir(cache):
    """Every field of every repo, revision and file, the physical total, the partials and the warnings."""
    scan, reference = scan_cache(cache), scan_cache_dir(cache)
    assert scan.info is not None and scan.complete
    assert _fields(scan.info.repos) == _fields(reference.repos)
    assert scan.info.size_on_disk == reference.size_on_disk
    assert scan.info.incomplete_files == reference.incomplete_files
    assert scan.info.cache_dir == reference.cache_dir
    assert sorted(map(str, scan.info.warnings)) == sorted(map(str, reference.warnings))


def test_the_scan_equals_scan_cache_dir_field_for_field(demo_cache, devhub):
    # Detached revisions, a revision sharing a blob, a dataset and a space, an orphaned partial, a
    # corrupted folder; then a broken ref, a blob gone under its link, a stray file, a links-only store.
    _assert_same_as_scan_cache_dir(demo_cache)
    (demo_cache / "models--hftop-demo--llama-mini" / "refs" / "main").write_text("0" * 40)
    tiny = demo_cache / "models--hftop-demo--tiny-bert"
    next(p for p in (tiny / "blobs").iterdir() if not p.name.endswith(".incomplete")).unlink()
    (demo_cache / "notes.txt").write_text("not a repo")
    (demo_cache / "models--hftop-demo--whisper-small" / "refs" / "refs" / "pr").mkdir(parents=True)
    _assert_same_as_scan_cache_dir(demo_cache)


def test_the_scan_equals_scan_cache_dir_with_a_shared_store_and_nested_files(tmp_path, devhub):
    cache = tmp_path / "hub"
    snapshot_download("hftop-demo/whisper-small", cache_dir=cache, endpoint=devhub.endpoint)  # over Xet
    build_synthetic_cache(cache, files=250, files_per_repo=100)  # files in sub-folders of a revision
    assert (cache / "blobs").is_dir()
    _assert_same_as_scan_cache_dir(cache)


def test_a_rescan_reads_only_the_repo_that_changed(demo_cache, devhub):
    scanner = CacheScanner(demo_cache)
    first = scanner.scan()
    assert first.repos_read == len(first.info.repos) + len(first.info.warnings)
    assert scanner.scan().repos_read == 0, "nothing changed: nothing read"

    hf_hub_download("hftop-demo/gpt-micro", "config.json", cache_dir=demo_cache, endpoint=devhub.endpoint)
    second = scanner.scan()
    assert second.repos_read == 1
    hf_hub_download("hftop-demo/gpt-micro", "model.safetensors", cache_dir=demo_cache, endpoint=devhub.endpoint)
    third = scanner.scan()
    assert third.repos_read == 1
    assert _fields(third.info.repos) == _fields(scan_cache_dir(demo_cache).repos)
    assert third.info.size_on_disk == scan_cache_dir(demo_cache).size_on_disk

    shutil.rmtree(demo_cache / "models--hftop-demo--gpt-micro")
    fourth = scanner.scan()
    assert fourth.repos_read == 0 and "model/hftop-demo/gpt-micro" not in {r.cache_id for r in fourth.info.repos}
    assert fourth.info.repos == first.info.repos


def test_the_first_rows_come_before_the_scan_ends(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    build_synthetic_cache(cache, files=20_000, files_per_repo=100)
    monkeypatch.setattr(cache_scan, "FIRST_ROWS_AFTER", 0.0)  # this cache is read in well under 0.3 s
    seen = []
    final = CacheScanner(cache).scan(on_progress=seen.append)
    assert seen and all(not s.complete for s in seen) and final.complete
    assert 0 < len(seen[0].info.repos) < len(final.info.repos) == 200


SCAN_AS_USER = """
import json, sys
from pathlib import Path
from tui.probes.cache_scan import scan_cache
scan = scan_cache(Path(sys.argv[1]))
print(json.dumps({"error": scan.error, "repos": sorted(r.cache_id for r in scan.info.repos) if scan.info else None,
                  "warnings": [str(w) for w in scan.info.warnings] if scan.info else None}))
"""


def test_an_unreadable_repo_is_a_warning_and_the_others_stay_listed(unprivileged):
    import json

    locked = unprivileged.cache / "models--hftop-demo--llama-mini"
    os.chmod(locked, 0)
    ran = unprivileged.run(SCAN_AS_USER, str(unprivileged.cache))
    assert ran.returncode == 0, ran.stderr
    scan = json.loads(ran.stdout)
    assert scan["error"] is None, "one unreadable repo is not the whole cache"
    assert any("Cannot read" in w and "llama-mini" in w and "Permission denied" in w for w in scan["warnings"])
    assert "model/hftop-demo/llama-mini" not in scan["repos"] and "model/hftop-demo/tiny-bert" in scan["repos"]


def test_detached_revision_partial_and_warning_are_reported(demo_cache, devhub):
    info = scan_cache(demo_cache).info
    tiny = _repo(info, "model/hftop-demo/tiny-bert")
    refs = sorted((sorted(rev.refs), rev.commit_hash) for rev in tiny.revisions)
    v1 = devhub.repos[("model", "hftop-demo/tiny-bert")].refs["v1.0"]
    assert refs[0] == ([], v1), "the revision fetched by hash has no ref: detached"
    assert refs[1][0] == ["main"]
    # config.json is the same blob in both revisions; the repo counts it once.
    assert tiny.size_on_disk < sum(rev.size_on_disk for rev in tiny.revisions)

    [partial] = info.incomplete_files
    assert partial.file_path.name.endswith(".incomplete")
    assert scan_cache(demo_cache).partial_bytes == partial.size_on_disk  # written densely by plain HTTP
    assert partial.size_on_disk >= demo_cache_builder.ORPHAN_BYTES

    assert len(info.warnings) == 1
    assert demo_cache_builder.CORRUPTED_FOLDER in str(info.warnings[0])


def test_missing_cache_dir_is_not_an_error(tmp_path):
    scan = scan_cache(tmp_path / "nowhere")
    assert scan.missing and scan.info is None and scan.error is None


def test_a_file_instead_of_a_folder_gets_a_sentence(tmp_path):
    path = tmp_path / "hub"
    path.write_text("oops")
    scan = scan_cache(path)
    assert scan.info is None and not scan.missing
    assert "file" in scan.error and str(path) in scan.error


def test_a_broken_ref_makes_a_warning_not_a_failure(demo_cache):
    ref = demo_cache / "models--hftop-demo--llama-mini" / "refs" / "main"
    ref.write_text("0" * 40)
    info = scan_cache(demo_cache).info
    assert "model/hftop-demo/llama-mini" not in {r.cache_id for r in info.repos}
    assert any("llama-mini" in str(w) for w in info.warnings)


def test_a_symlink_loop_gets_a_sentence_not_a_traceback(tmp_path):
    loop = tmp_path / "hub"
    os.symlink(loop, loop)
    scan = scan_cache(loop)
    assert scan.info is None and scan.error and "Cannot read the cache" in scan.error


@pytest.mark.parametrize("watched", [False, True], ids=["stat", "inotify"])
def test_fingerprint_is_stable_and_sees_every_kind_of_change(demo_cache, devhub, watched):
    # Taken afresh each time, or by CacheChanges: the last one while inotify saw nothing happen.
    changes = CacheChanges(demo_cache)
    take = changes.fingerprint if watched else partial(cache_fingerprint, demo_cache)
    first = take()
    assert take() == first, "nothing changed: same fingerprint"

    # A new repo downloaded by huggingface_hub.
    hf_hub_download("hftop-demo/gpt-micro", "config.json", cache_dir=demo_cache, endpoint=devhub.endpoint)
    second = take()
    assert second != first

    # A ref moved to another commit (rewritten in place).
    ref = demo_cache / "models--hftop-demo--tiny-bert" / "refs" / "main"
    v1 = devhub.repos[("model", "hftop-demo/tiny-bert")].refs["v1.0"]
    ref.write_text(v1)
    third = take()
    assert third != second

    # A revision deleted.
    snapshots = demo_cache / "models--hftop-demo--whisper-small" / "snapshots"
    shutil.rmtree(next(snapshots.iterdir()))
    fourth = take()
    assert fourth != third

    # The orphan partial removed.
    for orphan in demo_cache.glob("*/blobs/*.incomplete"):
        orphan.unlink()
    fifth = take()
    assert fifth != fourth

    # A second file of an existing revision (new blob, new snapshot entry).
    hf_hub_download("hftop-demo/gpt-micro", "model.safetensors", cache_dir=demo_cache, endpoint=devhub.endpoint)
    assert take() != fifth
    changes.close()


def test_cache_changes_keeps_the_fingerprint_while_nothing_happens(demo_cache, devhub):
    changes = CacheChanges(demo_cache)
    first = changes.fingerprint()
    assert changes.fingerprint() is first, "no event: not taken again"
    partial_file = next(demo_cache.glob("*/blobs/*.incomplete"))
    with partial_file.open("ab") as f:  # a download's bytes landing change nothing the fingerprint sees
        f.write(b"x" * 1000)
    assert changes.fingerprint() is first
    ref = demo_cache / "models--hftop-demo--tiny-bert" / "refs" / "main"
    ref.write_text(devhub.repos[("model", "hftop-demo/tiny-bert")].refs["v1.0"])
    second = changes.fingerprint()
    assert second != first and changes.fingerprint() is second
    changes.close()


def test_cache_changes_sees_a_xet_download_and_the_shared_store(tmp_path, devhub):
    cache = tmp_path / "hub"
    changes = CacheChanges(cache)
    missing = changes.fingerprint()
    snapshot_download("hftop-demo/whisper-small", cache_dir=cache, endpoint=devhub.endpoint)  # over Xet
    first = changes.fingerprint()
    assert first != missing and changes.fingerprint() is first
    prefix = next(p for p in (cache / "blobs").iterdir() if p.is_dir())
    (prefix / "stray").write_text("")  # each prefix folder of the shared store is watched
    second = changes.fingerprint()
    assert second != first and changes.fingerprint() is second
    changes.close()


def test_fingerprint_notices_the_cache_appearing(tmp_path, devhub):
    cache = tmp_path / "hub"
    before = cache_fingerprint(cache)
    hf_hub_download("hftop-demo/chat-space", "app.py", repo_type="space", cache_dir=cache, endpoint=devhub.endpoint)
    assert cache_fingerprint(cache) != before
    assert scan_cache(cache).info is not None


def test_shared_xet_store_is_counted_once(tmp_path, devhub):
    """Two repos whose blobs are symlinks into the cache-wide store: one from a real Xet download, the
    other linked by huggingface_hub's own function (as a second Xet download of the same file would)."""
    cache = tmp_path / "hub"
    before = cache_fingerprint(cache)
    snapshot_download("hftop-demo/whisper-small", cache_dir=cache, endpoint=devhub.endpoint)
    hub_file = devhub.file("hftop-demo/whisper-small", "model.safetensors")
    xet_hash = devhub.xet.file_hash(hub_file)
    original = cache / "models--hftop-demo--whisper-small"
    blob = original / "blobs" / hub_file.etag
    assert blob.is_symlink() and (cache / "blobs" / xet_hash[:2] / xet_hash).is_file()

    # A second repo that references the same store entry (as a second Xet download of the same file would).
    twin = cache / "models--hftop-demo--whisper-twin"
    (twin / "blobs").mkdir(parents=True)
    (twin / "refs").mkdir()
    commit = next((original / "snapshots").iterdir()).name
    (twin / "refs" / "main").write_text(commit)
    (twin / "snapshots" / commit).mkdir(parents=True)
    assert try_link_from_shared_store(
        blob_path=str(twin / "blobs" / hub_file.etag), xet_hash=xet_hash, cache_dir=cache, expected_size=hub_file.size
    )
    os.symlink(f"../../blobs/{hub_file.etag}", twin / "snapshots" / commit / "model.safetensors")

    assert cache_fingerprint(cache) != before
    info = scan_cache(cache).info
    assert not info.warnings
    sizes = {r.repo_id: r.size_on_disk for r in info.repos}
    assert sizes["hftop-demo/whisper-twin"] == hub_file.size
    assert sizes["hftop-demo/whisper-small"] >= hub_file.size
    # The physical total counts the shared payload once.
    assert info.size_on_disk < sum(sizes.values())
    assert info.size_on_disk == scan_cache_dir(cache).size_on_disk


def test_partial_sizes_are_sparse_aware(tmp_path):
    sparse = tmp_path / "x.incomplete"
    with open(sparse, "wb") as f:
        f.truncate(50_000_000)  # apparent size, no blocks written
        f.write(b"a" * 4096)
    dense = tmp_path / "y.incomplete"
    dense.write_bytes(b"b" * 100_000)
    sizes = partial_sizes([sparse, dense, tmp_path / "gone.incomplete"])
    assert sizes[dense] == 100_000
    assert sizes[sparse] < 1_000_000
    assert tmp_path / "gone.incomplete" not in sizes


def test_disk_space_of_a_cache_not_created_yet(tmp_path):
    space = disk_space(tmp_path / "not" / "yet" / "hub")
    assert space is not None and space.path == tmp_path and 0 < space.free <= space.total


def test_network_counters_are_real():
    code = (
        "from tui.probes.network import read_counters; r = read_counters(); print(len(r.received), sorted(r.loopback))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, loopback = out.split(" ", 1)
    assert int(count) >= 1 and "lo" in loopback
