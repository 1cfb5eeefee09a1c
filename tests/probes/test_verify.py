"""Verify against files the devhub served, clean and corrupted, through real downloads."""

from __future__ import annotations

import threading

from huggingface_hub import hf_hub_download, scan_cache_dir

from tui.devhub.faults import Fault
from tui.probes.verify import verify_files


def _files(cache, repo_id):
    repo = next(r for r in scan_cache_dir(cache).repos if r.repo_id == repo_id)
    return [f for rev in repo.revisions for f in rev.files]


def test_clean_files_pass_and_corrupted_ones_are_flagged(fresh_devhub, tmp_path, plain_http):
    cache = tmp_path / "hub"
    # The devhub flips bytes in the body of these two while their ETags stay those of the real content
    # (over plain HTTP: hf_xet checks every chunk's hash and would refuse them).
    fresh_devhub.set_fault("hftop-demo/whisper-small/model.safetensors", Fault(corrupt=True))
    fresh_devhub.set_fault("hftop-demo/tiny-bert/config.json", Fault(corrupt=True))
    for repo, name in [
        ("hftop-demo/whisper-small", "model.safetensors"),
        ("hftop-demo/whisper-small", "config.json"),
        ("hftop-demo/tiny-bert", "config.json"),
        ("hftop-demo/tiny-bert", "tokenizer.json"),
    ]:
        hf_hub_download(repo, name, cache_dir=cache, endpoint=fresh_devhub.endpoint)

    seen = []
    result = verify_files(_files(cache, "hftop-demo/whisper-small"), lambda done, total: seen.append((done, total)))
    assert result.checked == 2 and [m.file.file_name for m in result.mismatches] == ["model.safetensors"]
    assert result.mismatches[0].algorithm == "sha256" and seen[-1][0] == seen[-1][1] > 30_000_000

    result = verify_files(_files(cache, "hftop-demo/tiny-bert"))
    assert [(m.file.file_name, m.algorithm) for m in result.mismatches] == [("config.json", "git-sha1")]
    assert result.checked == 2 and not result.unreadable


def test_a_clean_download_passes_and_a_check_can_be_stopped(devhub, tmp_path):
    cache = tmp_path / "hub"
    hf_hub_download("hftop-demo/whisper-small", "model.safetensors", cache_dir=cache, endpoint=devhub.endpoint)
    files = _files(cache, "hftop-demo/whisper-small")
    assert verify_files(files).mismatches == ()
    stop = threading.Event()
    stop.set()
    assert verify_files(files, cancel=stop).cancelled
