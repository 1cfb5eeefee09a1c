"""The demo's xet folder and datasets cache, laid out as hf_xet and the `datasets` library leave them: a
gone process's old hf_xet log, a chunk cache older hf_xet left, datasets downloads with their `.json` and
`.lock`, an extracted archive, two Arrow caches and their builders' lock files. The demo's own Xet
downloads add live logs beside them. (hftop does not depend on `datasets`; its tests build a real one.)"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

_DAY = 86_400


def lay_out_folders(xet_dir: Path, datasets_dir: Path, now: float | None = None) -> None:
    now = time.time() if now is None else now
    rng = random.Random(7)

    def write(path: Path, size: int, age: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        os.utime(path, (now - age, now - age))

    # hf_xet: a log of a process long gone, and a chunk cache from the hf_xet 1.1 days.
    log = xet_dir / "logs" / "xet_20261101T093012345+0000_4242.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps({"timestamp": "2026-11-01T09:30:12Z", "level": "INFO", "fields": {"message": "done"}}))
    os.utime(log, (now - 3 * _DAY, now - 3 * _DAY))  # hf_xet itself deletes its logs past 14 days
    tag = xet_dir / "https___cas-server_xethub_hf_co-5mVjZDq2jM3fiSdP"
    for n in range(6):
        write(tag / "chunk-cache" / f"{n:02X}AbCdEf" / f"0-{n}.chunk", 3_000_000, 40 * _DAY)
    write(tag / "shard-cache" / "a1b2c3d4e5f6.mdb", 1_200_000, 2 * _DAY)
    (tag / "staging").mkdir(exist_ok=True)

    # datasets: what load_dataset left for a hub dataset and a CSV file.
    for name, size in (("8d4c5a1e0f", 4_000_000), ("3f2e1d0c9b", 900_000)):
        entry = datasets_dir / "downloads" / (name * 6 + "abcd")
        write(entry, size, 12 * _DAY)
        entry.with_name(entry.name + ".json").write_text(json.dumps({"url": f"https://example.org/{name}.zip"}))
        entry.with_name(entry.name + ".lock").touch()
    write(datasets_dir / "downloads" / "extracted" / ("7a" * 32) / "train.csv", 2_500_000, 12 * _DAY)
    for builder, config, size in (
        ("hftop-demo___squad-mini", "plain_text", 6_000_000),
        ("csv", "default-1c2b", 800_000),
    ):
        version = datasets_dir / builder / config / "0.0.0"
        digest = ("9e" if builder == "csv" else "4b") * 32
        folder = version / digest
        write(folder / f"{builder.split('___')[-1]}-train.arrow", size, 5 * _DAY)
        (folder / "dataset_info.json").write_text(json.dumps({"builder_name": builder, "config_name": config}))
        (version / f"{digest}_builder.lock").touch()
        (version / f"{digest}.incomplete_info.lock").touch()
    for path in datasets_dir.rglob("*"):
        if path.suffix in (".lock", ".json"):  # as old as what they go with
            os.utime(path, (now - 5 * _DAY, now - 5 * _DAY))
