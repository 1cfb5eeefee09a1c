"""`python -m tui.devhub.xet_build CAS_DIR SEED:SIZE ...`: make the xorbs of devhub files with hf_xet itself.

Each file is uploaded in a commit of its own to a `local://CAS_DIR` CAS, so its chunks fill xorbs of
its own in file order. Prints one JSON line per file: `{"seed": …, "size": …, "hash": "<xet file hash>"}`.
It runs as a child of the devhub so that hf_xet's runtime, threads and logs (set by the parent's
environment, read once at import) stay out of the hub's process.
"""

from __future__ import annotations

import json
import sys
import time

from .repos import content_slice

_PIECE = 4 * 1024 * 1024


def build(cas_dir: str, files: list[tuple[int, int]]) -> list[str]:
    import hf_xet  # type: ignore[import-untyped]  # ships no type hints

    session = hf_xet.XetSession()
    hashes = []
    for seed, size in files:
        commit = session.new_upload_commit(
            endpoint=f"local://{cas_dir}", token="devhub", token_expiry_unix_secs=int(time.time()) + 86_400
        )
        stream = commit.start_upload_stream(name=f"{seed}-{size}")
        for start in range(0, size, _PIECE):
            stream.write(content_slice(seed, size, start, start + _PIECE))
        result = stream.finish()
        commit.wait_to_finish()
        info = getattr(result, "xet_info", result)  # a stream's result wraps the file's metadata
        hashes.append(str(info.hash))
    return hashes


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    files = [(int(seed), int(size)) for seed, size in (item.split(":") for item in argv[1:])]
    for (seed, size), file_hash in zip(files, build(argv[0], files), strict=True):
        print(json.dumps({"seed": seed, "size": size, "hash": file_hash}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
