"""Real hf_xet against the devhub's Xet storage: the resolve headers, the read token, the CAS's v1
reconstructions and the xorb storage on its own loopback address, with the devhub's faults."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from huggingface_hub import hf_hub_download

from tests.devhub.test_devhub import sha256
from tui.devhub.faults import Fault
from tui.devhub.repos import content_slice

MiB = 1024 * 1024


def test_a_xet_file_comes_from_the_cas_and_the_xorb_storage_byte_exact(devhub, tmp_path):
    before = len(devhub.requests())
    p = hf_hub_download("hftop-demo/whisper-small", "model.safetensors", cache_dir=tmp_path, endpoint=devhub.endpoint)
    served = devhub.file("hftop-demo/whisper-small", "model.safetensors")
    assert sha256(p) == served.sha256
    seen = [
        (r.server, r.method, r.path.split("/")[1] if r.server != "api" else r.method, r.status)
        for r in devhub.requests()[before:]
    ]
    assert ("cas", "GET", "v2", 404) in seen, "v2 is not served: hf_xet falls back to v1"
    assert ("cas", "GET", "v1", 200) in seen
    assert ("xorbs", "GET", "xorbs", 206) in seen, "xorb bytes are fetched with Range"
    assert not any(server == "origin" for server, *_ in seen), "no plain-HTTP byte"
    assert devhub.xorbs_url.split(":")[1] != devhub.endpoint.split(":")[1], "xorb storage is another host"
    # The blob lives in the shared store under its xet hash; the repo's blob links to it.
    xet_hash = devhub.xet.file_hash(served)
    assert Path(p).resolve() == (tmp_path / "blobs" / xet_hash[:2] / xet_hash).resolve()


def test_a_file_of_several_xorbs_is_rebuilt_from_all_of_them(devhub, tmp_path):
    p = hf_hub_download("hftop-demo/vit-huge", "model.safetensors", cache_dir=tmp_path, endpoint=devhub.endpoint)
    served = devhub.file("hftop-demo/vit-huge", "model.safetensors")
    assert sha256(p) == served.sha256
    assert len({run.xorb for run in devhub.xet.runs(devhub.xet.file_hash(served))}) >= 3, "250 MB spans xorbs"


def test_a_ranged_reconstruction_holds_exactly_the_bytes_asked_for(devhub):
    store = devhub.xet
    served = devhub.file("hftop-demo/llama-mini", "model-00001-of-00002.safetensors")
    file_hash = store.file_hash(served)
    first, last = 17 * MiB + 123, 51 * MiB + 7
    answer = store.reconstruction(file_hash, first, last, devhub.xorbs_url)
    rebuilt = bytearray()
    for term in answer["terms"]:
        fetch = next(f for f in answer["fetch_info"][term["hash"]] if f["range"] == term["range"])
        data = store.xorb_path(term["hash"]).read_bytes()[fetch["url_range"]["start"] : fetch["url_range"]["end"] + 1]
        pos = 0
        while pos < len(data):  # random bytes do not compress: every chunk is stored as it is (scheme 0)
            length = int.from_bytes(data[pos + 1 : pos + 4], "little")
            assert data[pos + 4] == 0
            rebuilt += data[pos + 8 : pos + 8 + length]
            pos += 8 + length
        assert sum(1 for _ in range(term["range"]["start"], term["range"]["end"])) > 0
    offset = answer["offset_into_first_range"]
    assert bytes(rebuilt[offset : offset + last - first + 1]) == content_slice(
        served.seed, served.size, first, last + 1
    )


def test_the_tree_listing_names_xet_hashes(devhub):
    from huggingface_hub import HfApi

    entries = {e.path: e for e in HfApi(endpoint=devhub.endpoint).list_repo_tree("hftop-demo/llama-mini")}
    big = devhub.file("hftop-demo/llama-mini", "model-00002-of-00002.safetensors")
    assert entries[big.path].xet_hash == devhub.xet.file_hash(big)
    assert entries["config.json"].xet_hash is None, "small files stay in git"


def test_a_throttle_holds_across_the_parallel_xorb_fetches(fresh_devhub, tmp_path):
    hub = fresh_devhub
    hub.set_fault("hftop-demo/llama-mini/model-00001-of-00002.safetensors", Fault(throttle=20_000_000))
    hub.xet.file_hash(hub.file("hftop-demo/llama-mini", "model-00001-of-00002.safetensors"))  # xorbs made beforehand
    start = time.monotonic()
    hf_hub_download(
        "hftop-demo/llama-mini", "model-00001-of-00002.safetensors", cache_dir=tmp_path, endpoint=hub.endpoint
    )
    elapsed = time.monotonic() - start
    assert 2.7 <= elapsed <= 5.0, elapsed  # 60 MB at 20 MB/s, whatever the number of connections


def test_a_xet_stall_holds_the_file_and_the_connection(fresh_devhub, tmp_path):
    hub = fresh_devhub
    name = "model-00001-of-00002.safetensors"
    hub.set_fault(f"hftop-demo/llama-mini/{name}", Fault(throttle=20_000_000, stall_after=40 * MiB))
    code = (
        "import sys; from huggingface_hub import hf_hub_download; "
        f"hf_hub_download('hftop-demo/llama-mini', '{name}', cache_dir=sys.argv[1], endpoint=sys.argv[2])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), hub.endpoint], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        looks: list[tuple[int, int]] = []  # (bytes on disk, bytes the hub sent)
        while time.monotonic() < deadline:
            partials = list(tmp_path.rglob("*.incomplete"))
            size = partials[0].stat().st_size if partials else 0
            looks.append((size, hub.bytes_sent("hftop-demo/llama-mini", name, "xet")))
            if len(looks) > 8 and looks[-1][1] > 0 and looks[-1] == looks[-8]:
                break
            time.sleep(0.5)
        # hf_xet fetches terms in any order and writes whole terms in file order: the file holds at most
        # the terms before the stall point, and nothing more comes.
        size, sent = looks[-1]
        assert looks[-1] == looks[-8] and size <= 40 * MiB and 0 < sent <= 41 * MiB, looks
        assert proc.poll() is None, "hf_xet waits on the open connection"
    finally:
        proc.kill()
        proc.wait()
