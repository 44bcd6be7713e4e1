"""The serial executor: units train one after another in the driver's process."""
from __future__ import annotations

from pathlib import Path
from typing import List

from ..suite import PlannedRun, Suite
from .base import EXECUTORS, RESUME_NAME, Executor, SuiteProgress, run_dir, train_planned


@EXECUTORS.register("serial")
class SerialExecutor(Executor):
    def run(self, units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, log) -> None:
        for unit in units:
            recs = train_planned(unit, [run_dir(sdir, p.run_id) for p in unit], suite.name, self.progress)
            for p, rec in zip(unit, recs):
                (run_dir(sdir, p.run_id) / RESUME_NAME).unlink(missing_ok=True)  # a Ray pointer, if any, is stale
                prog.add(rec["status"])
                if rec["status"] == "failed":
                    log(f"run {p.run_id} ({p.spec.loss}/{p.spec.dataset}/seed {p.spec.seed}) failed: {rec['reason']}")
            log(prog.line())
