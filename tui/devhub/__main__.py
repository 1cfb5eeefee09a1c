"""`python -m tui.devhub`: run the loopback hub alone.

Prints the endpoint on the first line of standard output, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

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
        "Fields: throttle, tail_rate, tail_fraction, stall_after, drop_after, drop_times, status, "
        "status_times, corrupt. Change faults while running with POST /_devhub/faults.",
    )
    args = parser.parse_args(argv)
    try:
        faults = [parse_fault(text) for text in args.fault]
    except ValueError as e:
        parser.error(str(e))
    try:
        hub = DevHub(host=args.host, port=args.port)
    except OSError as e:
        print(f"devhub: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    for pattern, fault in faults:
        hub.set_fault(pattern, fault)
    hub.start()
    print(hub.endpoint, flush=True)
    print(f"download origin: {hub.origin_url}", file=sys.stderr, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
