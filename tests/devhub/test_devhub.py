"""Real huggingface_hub clients against the devhub: what they fetch is byte-exact, faults behave as on the Hub."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from tui.devhub.faults import Fault, parse_bytes, parse_fault


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_snapshot_download_is_byte_exact(devhub, tmp_path):
    folder = Path(snapshot_download("hftop-demo/tiny-bert", cache_dir=tmp_path, endpoint=devhub.endpoint))
    served = devhub.repos[("model", "hftop-demo/tiny-bert")].resolve("main").files
    assert sorted(f.path for f in served) == sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    )
    for f in served:
        assert sha256(folder / f.path) == f.sha256, f.path
    # Blob names are what the Hub's ETags say: sha256 for LFS files, the git blob id for small ones.
    blobs = {p.name for p in (tmp_path / "models--hftop-demo--tiny-bert" / "blobs").iterdir()}
    assert blobs == {f.etag for f in served}
    # snapshot_download wrote the tree listing hftop reads expected sizes from.
    commit = folder.name
    assert (tmp_path / "models--hftop-demo--tiny-bert" / "trees" / f"{commit}.json").is_file()


def test_dataset_and_space_and_revision_by_tag(devhub, tmp_path):
    p = hf_hub_download(
        "hftop-demo/squad-mini", "data/train.parquet", repo_type="dataset", cache_dir=tmp_path, endpoint=devhub.endpoint
    )
    assert sha256(p) == devhub.file("hftop-demo/squad-mini", "data/train.parquet", repo_type="dataset").sha256
    p = hf_hub_download(
        "hftop-demo/chat-space", "app.py", repo_type="space", cache_dir=tmp_path, endpoint=devhub.endpoint
    )
    assert sha256(p) == devhub.file("hftop-demo/chat-space", "app.py", repo_type="space").sha256
    p = hf_hub_download(
        "hftop-demo/tiny-bert", "model.safetensors", revision="v1.0", cache_dir=tmp_path, endpoint=devhub.endpoint
    )
    assert sha256(p) == devhub.file("hftop-demo/tiny-bert", "model.safetensors", revision="v1.0").sha256


def test_hf_download_command(devhub, tmp_path):
    hf = shutil.which("hf", path=str(Path(sys.executable).parent))
    env = {
        **os.environ,
        "HF_ENDPOINT": devhub.endpoint,
        "HF_HUB_CACHE": str(tmp_path),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    out = subprocess.run(
        [hf, "download", "hftop-demo/whisper-small", "model.safetensors"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip().splitlines()[-1].split("path:")[-1].strip())
    assert sha256(path) == devhub.file("hftop-demo/whisper-small", "model.safetensors").sha256


def test_large_files_are_redirected_to_the_download_origin(devhub, tmp_path, plain_http):
    api = HfApi(endpoint=devhub.endpoint)
    before = len(devhub.requests())
    hf_hub_download("hftop-demo/whisper-small", "model.safetensors", cache_dir=tmp_path, endpoint=devhub.endpoint)
    seen = devhub.requests()[before:]
    # A Xet-backed file's HEAD names its xet hash, so huggingface_hub keeps the resolve URL and the GET
    # follows the redirect itself, as against the Hub under HF_HUB_DISABLE_XET=1.
    assert [(r.server, r.method, r.status) for r in seen] == [
        ("api", "HEAD", 302),
        ("api", "GET", 302),
        ("origin", "GET", 200),
    ]
    assert devhub.origin_url != devhub.endpoint
    info = api.model_info("hftop-demo/whisper-small")
    assert info.sha == devhub.repos[("model", "hftop-demo/whisper-small")].refs["main"]


@pytest.mark.parametrize(
    "call, error",
    [
        pytest.param(dict(repo_id="hftop-demo/nope", filename="x"), RepositoryNotFoundError, id="unknown-repo"),
        pytest.param(
            dict(repo_id="hftop-demo/tiny-bert", filename="x", revision="v9"),
            RevisionNotFoundError,
            id="unknown-revision",
        ),
        pytest.param(dict(repo_id="hftop-demo/tiny-bert", filename="nope.bin"), EntryNotFoundError, id="unknown-file"),
    ],
)
def test_errors_are_the_hubs(devhub, tmp_path, call, error):
    with pytest.raises(error):
        hf_hub_download(**call, cache_dir=tmp_path, endpoint=devhub.endpoint)


def test_dropped_connection_is_resumed_with_range_within_the_call(fresh_devhub, tmp_path, plain_http):
    hub = fresh_devhub
    hub.set_fault("hftop-demo/whisper-small/model.safetensors", Fault(drop_after=15_000_000))
    p = hf_hub_download("hftop-demo/whisper-small", "model.safetensors", cache_dir=tmp_path, endpoint=hub.endpoint)
    assert sha256(p) == hub.file("hftop-demo/whisper-small", "model.safetensors").sha256
    gets = [r for r in hub.requests() if r.server == "origin"]
    assert [r.range for r in gets] == [None, "bytes=10485760-"], "retried from the last 10 MiB boundary"
    assert [r.status for r in gets] == [200, 206]


def test_a_drop_point_reached_again_drops_again_until_the_call_gives_up(fresh_devhub, tmp_path, plain_http):
    hub = fresh_devhub
    hub.set_fault("hftop-demo/whisper-small/model.safetensors", Fault(drop_after=20 * 1024 * 1024, drop_times=100))
    with pytest.raises(Exception) as raised:
        hf_hub_download("hftop-demo/whisper-small", "model.safetensors", cache_dir=tmp_path, endpoint=hub.endpoint)
    assert "RemoteProtocolError" in repr(raised.value) or "closed" in str(raised.value).lower()
    ranges = [r.range for r in hub.requests() if r.server == "origin"]
    assert ranges[0] is None and set(ranges[1:]) == {"bytes=20971520-"} and len(ranges) == 6, (
        "5 retries, then it gives up"
    )
    assert not list(tmp_path.rglob("*.incomplete")), "huggingface_hub deletes the partial of a failed call"


def test_faults_are_removed_one_pattern_at_a_time(fresh_devhub):
    import urllib.request

    hub = fresh_devhub
    hub.set_fault("a/*", Fault(throttle=1000))
    hub.set_fault("b/*", Fault(throttle=2000))
    request = urllib.request.Request(f"{hub.endpoint}/_devhub/faults?pattern=a%2F%2A", method="DELETE")
    urllib.request.urlopen(request, timeout=5).close()
    assert list(hub.faults()) == ["b/*"]


def test_server_errors_then_success(fresh_devhub, tmp_path):
    hub = fresh_devhub
    hub.set_fault("*", Fault(status=503, status_times=1))
    p = hf_hub_download("hftop-demo/chat-space", "app.py", repo_type="space", cache_dir=tmp_path, endpoint=hub.endpoint)
    assert sha256(p) == hub.file("hftop-demo/chat-space", "app.py", repo_type="space").sha256
    assert [r.status for r in hub.requests()][:2] == [503, 200]


def test_throttle_sets_the_rate(fresh_devhub, tmp_path):
    hub = fresh_devhub
    hub.set_fault("hftop-demo/squad-mini/data/validation.parquet", Fault(throttle=2_000_000))
    start = time.monotonic()
    hf_hub_download(
        "hftop-demo/squad-mini",
        "data/validation.parquet",
        repo_type="dataset",
        cache_dir=tmp_path,
        endpoint=hub.endpoint,
    )
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed <= 2.0, elapsed  # 2 MB at 2 MB/s


def test_corrupted_bytes_keep_the_real_etag(fresh_devhub, tmp_path, plain_http):
    hub = fresh_devhub
    hub.set_fault("hftop-demo/whisper-small/model.safetensors", Fault(corrupt=True))
    p = hf_hub_download("hftop-demo/whisper-small", "model.safetensors", cache_dir=tmp_path, endpoint=hub.endpoint)
    f = hub.file("hftop-demo/whisper-small", "model.safetensors")
    assert Path(p).resolve().name == f.sha256
    assert sha256(p) != f.sha256, "huggingface_hub has no checksum step: the corruption lands in the cache"


def test_authorization_is_recorded(fresh_devhub, tmp_path):
    hub = fresh_devhub
    hf_hub_download(
        "hftop-demo/chat-space",
        "app.py",
        repo_type="space",
        cache_dir=tmp_path,
        endpoint=hub.endpoint,
        token="hf_secret",
    )
    assert all(r.authorized for r in hub.requests())


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            "hftop-demo/vit-huge/*:throttle=2MB,tail_rate=50KB",
            ("hftop-demo/vit-huge/*", Fault(throttle=2_000_000, tail_rate=50_000)),
            id="throttle-tail",
        ),
        pytest.param("*:status=503,status_times=2", ("*", Fault(status=503, status_times=2)), id="status"),
        pytest.param("stall_after=10MiB", ("*", Fault(stall_after=10 * 1024 * 1024)), id="no-pattern"),
        pytest.param("a/b/c:corrupt", ("a/b/c", Fault(corrupt=True)), id="flag"),
    ],
)
def test_parse_fault(text, expected):
    assert parse_fault(text) == expected


@pytest.mark.parametrize("text", ["*:speed=3", "*:throttle=fast", "*:throttle"])
def test_parse_fault_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_fault(text)


def test_parse_bytes():
    assert parse_bytes("1.5MB") == 1_500_000 and parse_bytes("2KiB") == 2048 and parse_bytes("7") == 7


def test_devhub_command_runs_alone_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.devhub", "--fault", "*:throttle=1MB"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = proc.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:")
        assert HfApi(endpoint=endpoint).model_info("hftop-demo/llama-mini").sha
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0
