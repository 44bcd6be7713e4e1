"""Running suites: plan -> skip finished runs -> execute (an executor from bench.executors) -> collect.

Run identity is the RunSpec's run_id (a hash of the resolved configuration). A run whose
record says ``done`` or ``diverged`` is a result and is skipped (``force`` redoes it); a run
that ``failed``, is ``running`` (interrupted), or whose record is corrupt is run again — and
resumes from its last checkpoint where one exists. Both executors pin torch's threads to the
trial's CPU share, so they compute identical numbers."""
from __future__ import annotations

import copy
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import CorruptRecord
from .executors import EXECUTORS, FINISHED, RESUME_NAME, SuiteProgress, record_state, run_dir  # noqa: F401
from .results import LOWER_IS_BETTER, atomic_write_bytes, read_record
from .suite import PlannedRun, Suite


def suite_dir(results_root: Path, suite: Suite) -> Path:
    return Path(results_root) / suite.name


def pin(planned: PlannedRun, cpu: float) -> PlannedRun:
    p = copy.copy(planned)
    p.spec = copy.deepcopy(planned.spec)
    p.spec.threads = max(1, int(cpu))
    return p


def run_suite(suite: Suite, results_root: Path = Path("results"), executor: str = "serial",
              address: Optional[str] = None, max_concurrent: Optional[int] = None, force: bool = False,
              storage: Optional[str] = None, device: Optional[str] = None, data_root: Optional[str] = None,
              progress: bool = True, log=None) -> Dict[str, Any]:
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    runner = EXECUTORS.get(executor)(progress=progress, address=address, max_concurrent=max_concurrent,
                                     storage=storage)
    sdir = suite_dir(results_root, suite)
    sdir.mkdir(parents=True, exist_ok=True)
    if suite.path is not None:
        atomic_write_bytes(sdir / "suite.yaml", Path(suite.path).read_bytes())
    prog = SuiteProgress(total=suite.count())
    planned_all: List[PlannedRun] = []
    for phase in suite.phases():
        if phase == "grid":
            planned = suite.plan_grid()
        elif phase == "final":
            planned = suite.plan_final(best_configs(sdir, suite, planned_all))
        else:
            planned = suite.plan_search(phase)
        for p in planned:
            if device:
                p.spec.device = device
            if data_root:
                p.spec.data_root = data_root
        planned_all += planned
        pending = []
        for p in planned:
            st = record_state(sdir, p.run_id, log)
            if st == "corrupt":
                prog.corrupt.append(p.run_id)
            if force and st is not None:
                shutil.rmtree(run_dir(sdir, p.run_id), ignore_errors=True)
                st = None
            if st in FINISHED:
                prog.skipped += 1
            else:
                pending.append(pin(p, suite.resources.get("cpu", 1) or 1))
        log(f"{suite.name} [{phase}]: {len(planned)} runs, {len(planned) - len(pending)} already finished, "
            f"{len(pending)} to run ({executor})")
        if pending:
            runner.run(pack_units(pending, suite.pack), sdir, suite, prog, log)
    from .collect import collect

    table = collect(sdir, run_ids=[p.run_id for p in planned_all], log=log)
    log(prog.line())
    return {"suite": suite.name, "results": str(sdir), "runs": len(planned_all), "progress": prog,
            "table": table}


def best_configs(sdir: Path, suite: Suite, searched: List[PlannedRun]) -> Dict[Any, Any]:
    """Per (loss, dataset, other axes): the searched configuration with the best value of the
    suite's metric (best over checkpoints); ties go to the earliest sample."""
    metric = suite.search["metric"]
    sign = 1 if metric in LOWER_IS_BETTER else -1
    best: Dict[Any, Any] = {}
    for p in searched:
        rec = None
        try:
            rec = read_record(run_dir(sdir, p.run_id))
        except CorruptRecord:
            pass
        if not rec or rec["status"] != "done":
            continue
        v = rec["metrics"]["best"].get(metric)
        if v is None or not math.isfinite(v):
            continue
        others = json.dumps({k: v2 for k, v2 in rec["config"].items() if k in suite.grid and
                             k not in ("loss", "dataset", "seed")}, sort_keys=True)
        key = (p.spec.loss, p.spec.dataset, others)
        if key not in best or sign * v < sign * best[key][0]:
            best[key] = (v, p.spec)
    return {k: v[1] for k, v in best.items()}


def pack_units(pending: List[PlannedRun], k: int) -> List[List[PlannedRun]]:
    """Group runs that differ only in seed into units of at most k (suite key ``pack``); runs the
    engine's packability rule refuses stay alone. Packing changes how runs are computed, not
    what (up to float rounding; see bench/engine/packed.py): each keeps its run id and record."""
    from .engine import pack_key, pack_refusal

    if k <= 1:
        return [[p] for p in pending]
    groups: Dict[str, List[PlannedRun]] = {}
    units: List[List[PlannedRun]] = []
    for p in pending:
        if pack_refusal(p.spec) is not None:
            units.append([p])
        else:
            groups.setdefault(pack_key(p.spec), []).append(p)
    for g in groups.values():
        units += [g[i:i + k] for i in range(0, len(g), k)]
    return units


