"""What a deletion plan must keep: the repos a live download writes into."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HFCacheInfo

from tui.core.cleanup import DeletionPlan, Mark, plan_deletion
from tui.probes.partials import find_partials


def busy_repos(cache_dir: Path) -> dict[Path, str]:
    """Repo folders a live download writes into (a partial file with a writer or a held lock)."""
    busy: dict[Path, str] = {}
    for p in find_partials(cache_dir):
        pid = p.owners[0].pid if p.owners else p.lock_holder
        if pid is not None:
            busy[p.path.parent.parent] = f"a download (PID {pid}) is writing into it"
    return busy


def current_plan(info: HFCacheInfo, marks: frozenset[Mark], cache_dir: Path) -> DeletionPlan:
    return plan_deletion(info, marks, busy_repos(cache_dir))
