"""Whether the process that started us is still there: children of hftop stop when it is gone."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

POLL = 0.5
"""Seconds between two looks at the owner."""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    return True


def when_owner_dies(pid: int, act: Callable[[], None]) -> threading.Thread:
    """Call `act` once, from a daemon thread, within POLL seconds of process `pid` ending.

    A polling thread rather than PR_SET_PDEATHSIG: that signal follows the parent *thread*, and
    hftop starts its children from worker threads that come and go.
    """

    def watch() -> None:
        while alive(pid):
            time.sleep(POLL)
        act()

    thread = threading.Thread(target=watch, daemon=True, name=f"owner-{pid}")
    thread.start()
    return thread
