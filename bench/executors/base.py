"""What every executor shares: the interface, the run folders, suite progress, and training one
planned unit (a run, or runs packed by seed) through the engine.

An executor takes units of planned runs and makes each end with a record under
``results/<suite>/runs/<run_id>/``; it decides only where and when units train. Executors
register by name in ``EXECUTORS`` (``serial``, ``ray``)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ..errors import CorruptRecord
from ..registry import Registry
from ..results import read_record
from ..suite import PlannedRun, Suite

FINISHED = ("done", "diverged")
RESUME_NAME = "resume.json"  # a pointer to a run's latest checkpoint in the executor's storage

EXECUTORS: "Registry[type]" = Registry("executor")


class Executor:
    """Trains units of planned runs. ``run`` returns when every unit has a record (done,
    diverged or failed) or raises only for what is not a run's fault."""

    name = ""

    def __init__(self, *, progress: bool = True, address: Optional[str] = None,
                 max_concurrent: Optional[int] = None, storage: Optional[str] = None):
        self.progress, self.address, self.max_concurrent, self.storage = progress, address, max_concurrent, storage

    def run(self, units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: "SuiteProgress", log) -> None:
        raise NotImplementedError


@dataclass
class SuiteProgress:
    total: int
    done: int = 0
    failed: int = 0
    diverged: int = 0
    skipped: int = 0
    stopped: int = 0  # finished runs successive halving did not promote (already counted as done or skipped)
    corrupt: List[str] = field(default_factory=list)
    t0: float = field(default_factory=time.time)
    # called after each run finishes (done, diverged or failed), with its record written: the
    # driver's periodic live report hangs here (bench.suite_cli.ReportRefresher); never raises
    on_finish: Optional[Callable[["SuiteProgress"], None]] = None

    def line(self) -> str:
        finished = self.done + self.failed + self.diverged
        el = time.time() - self.t0
        todo = self.total - self.skipped - finished
        eta = el / finished * todo if finished else float("nan")
        eta_s = "?" if math.isnan(eta) else f"{eta / 60:.1f} min"
        return (f"[{self.skipped + finished}/{self.total}] done {self.done + self.skipped} "
                f"(skipped {self.skipped}), diverged {self.diverged}, failed {self.failed}, "
                + (f"stopped {self.stopped}, " if self.stopped else "") + f"elapsed {el / 60:.1f} min, ETA {eta_s}")

    def add(self, status: str) -> None:
        if status == "done":
            self.done += 1
        elif status == "diverged":
            self.diverged += 1
        elif status == "stopped":  # a done run halving did not promote: re-labelled, not a new finish
            self.stopped += 1
            return
        else:
            self.failed += 1
        if self.on_finish is not None:
            self.on_finish(self)


def run_dir(sdir: Path, run_id: str) -> Path:
    return sdir / "runs" / run_id


def record_state(sdir: Path, run_id: str, log=print) -> Optional[str]:
    """Status of a run's record: None (no record), 'corrupt', or the record's status."""
    try:
        rec = read_record(run_dir(sdir, run_id))
    except CorruptRecord as e:
        log(f"warning: {e}; the run will be redone")
        return "corrupt"
    return None if rec is None else rec["status"]


def train_planned(unit: List[PlannedRun], outs: List[Path], suite_name: str, progress: bool,
                on_checkpoint=None) -> List[Dict[str, Any]]:
    """Train one unit (a run, or runs packed together). ``on_checkpoint()`` is called after each
    intermediate checkpoint of the unit (not the final one)."""
    from ..engine import train_unit

    def hook(recs):
        if any(r["status"] == "running" for r in recs):
            on_checkpoint()
    return train_unit([p.spec for p in unit], outs, suite=suite_name, progress=progress and len(unit) == 1,
                      metas=[p.meta() for p in unit], on_checkpoint=hook if on_checkpoint else None)
