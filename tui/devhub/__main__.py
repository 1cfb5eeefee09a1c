"""`python -m tui.devhub`: run the loopback hub alone.

Prints the endpoint on the first line of standard output, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from tui.probes.owner import alive, when_owner_dies

from .faults import parse_fault
from .server import DevHub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.devhub", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address for the API (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port for the API (default: any free port)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="PATTERN:SPEC",
        help="inject a fault, e.g. 'hftop-demo/vit-huge/*:throttle=2MB,tail_rate=50KB' or '*:status=503'. "
        "Fields: throttle, link (the throttle is one line every matching file shares), tail_rate, tail_fraction, "
        "stall_after, drop_after, drop_times, status, "
        "status_times, corrupt, ignore_range, gone, over (xet or http: only on that path of the bytes). Change faults while running with POST /_devhub/faults.",
    )
    parser.add_argument(
        "--local-cas",
        action="store_true",
        help="Xet clients read the xorbs from the hub's folder (a local:// CAS): no CAS traffic to watch",
    )
    parser.add_argument(
        "--exit-with",
        type=int,
        metavar="PID",
        help="stop when process PID is gone (hftop --demo passes its own pid, so a killed hftop leaves no hub behind)",
    )
    parser.add_argument(
        "--cleanup",
        type=Path,
        metavar="DIR",
        help="remove DIR when the hub stops (the demo's throwaway cache, even if hftop was killed)",
    )
    args = parser.parse_args(argv)
    try:
        faults = [parse_fault(text) for text in args.fault]
    except ValueError as e:
        parser.error(str(e))
    try:
        hub = DevHub(host=args.host, port=args.port, local_cas=args.local_cas)
    except OSError as e:
        print(f"devhub: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    for pattern, fault in faults:
        hub.set_fault(pattern, fault)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    if args.exit_with:
        when_owner_dies(args.exit_with, done.set)
    hub.start()
    hub.prepare_xet(wait=False)
    try:
        print(hub.endpoint, flush=True)
        print(f"download origin: {hub.origin_url}", file=sys.stderr, flush=True)
    except OSError:  # whoever started us is gone already: clean up all the same
        done.set()
    done.wait()
    hub.stop()
    if args.cleanup:
        if args.exit_with and not alive(args.exit_with):
            # The owner died without closing the demo: the cache filler notices within its 0.5 s
            # poll and stops; removing the folder before then would race its last writes.
            time.sleep(1.0)
        shutil.rmtree(args.cleanup, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
