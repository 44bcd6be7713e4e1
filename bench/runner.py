"""Running suites: plan -> skip finished runs -> execute (an executor from bench.executors) -> collect.

Each phase (grid; wide / narrow search, rung by rung under successive halving; final) is planned
from the finished records on disk only, so what runs next does not depend on the order results
arrived in, on the executor, or on a driver restart in between. After the suite,
``results/<suite>/budget.json`` holds the compute each cell consumed.

Run identity is the RunSpec's run_id (a hash of the resolved configuration). A run whose
record says ``done``, ``diverged`` or ``stopped`` (not promoted by successive halving) is a
result and is skipped (``force`` redoes it); a run
that ``failed``, is ``running`` (interrupted), or whose record is corrupt is run again — and
resumes from its last checkpoint where one exists. Both executors pin torch's threads to the
trial's CPU share, so they compute identical numbers."""
from __future__ import annotations

import copy
import math
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import CorruptRecord
from .executors import EXECUTORS, FINISHED, RESUME_NAME, SuiteProgress, record_state, run_dir  # noqa: F401
from .metrics.catalogue import metric
from .lock import SuiteLock
from .results import RECORD_NAME, atomic_write_bytes, atomic_write_json, read_record, selection_score
from .suite import PlannedRun, Suite, check_budgets

# A run whose record has one of these statuses is a result and is skipped on a re-run. ``stopped``:
# a configuration successive halving did not promote (its scores are kept).
DONE_STATES = FINISHED + ("stopped",)


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
              progress: bool = True, log=None, wait: bool = False, on_finish=None) -> Dict[str, Any]:
    """Run every planned run of ``suite`` not yet finished, as its one driver: a second driver of
    the same results folder is refused (``SuiteLocked``, naming the holder) or, with ``wait``,
    waits for the first to end (bench.lock). ``on_finish(progress)`` is called after each run
    finishes, in the driver, with the run's record written (the CLI's periodic live report)."""
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    check_budgets(suite)  # a Suite built in code gets the loader's equal-budget rule too
    runner = EXECUTORS.get(executor)(progress=progress, address=address, max_concurrent=max_concurrent,
                                     storage=storage)
    sdir = suite_dir(results_root, suite)
    sdir.mkdir(parents=True, exist_ok=True)
    with SuiteLock(sdir, wait=wait, log=log):
        return _drive(suite, sdir, runner, executor, force, device, data_root, log, on_finish)


def _drive(suite: Suite, sdir: Path, runner, executor: str, force: bool, device: Optional[str],
           data_root: Optional[str], log, on_finish=None) -> Dict[str, Any]:
    if suite.path is not None:
        atomic_write_bytes(sdir / "suite.yaml", Path(suite.path).read_bytes())
    prog = SuiteProgress(total=suite.count(), on_finish=on_finish)
    planned_all: List[PlannedRun] = []
    searched: List[PlannedRun] = []  # the runs the final phase chooses from (under halving: the last rung)

    def execute(planned: List[PlannedRun], label: str) -> None:
        for p in planned:
            if device:
                p.spec.device = device
            if data_root:
                p.spec.data_root = data_root
        planned_all.extend(planned)
        pending = []
        for p in planned:
            st = record_state(sdir, p.run_id, log)
            if st == "corrupt":
                prog.corrupt.append(p.run_id)
            if force and st is not None:
                shutil.rmtree(run_dir(sdir, p.run_id), ignore_errors=True)
                st = None
            if st in DONE_STATES:
                prog.skipped += 1
            else:
                pending.append(pin(p, suite.resources.get("cpu", 1) or 1))
        log(f"{suite.name} [{label}]: {len(planned)} runs, {len(planned) - len(pending)} already finished, "
            f"{len(pending)} to run ({executor})")
        if pending:
            runner.run(pack_units(pending, suite.pack), sdir, suite, prog, log)
        stamp_search_meta(sdir, planned)

    for phase in suite.phases():
        if phase == "grid":
            execute(suite.plan_grid(), phase)
        elif phase == "final":
            execute(suite.plan_final(best_configs(sdir, suite, searched)), phase)
        elif suite.halving:
            promoted = None
            n_rungs = suite.n_rungs()
            for rung in range(n_rungs):
                planned = suite.plan_search(phase, rung=rung, promoted=promoted)
                steps = sorted({p.spec.steps for p in planned})
                execute(planned, f"{phase} rung {rung + 1}/{n_rungs}, {'/'.join(map(str, steps))} D steps")
                if rung + 1 < n_rungs:
                    promoted = promote(sdir, suite, planned, rung, prog, log)
            searched += planned
        else:
            planned = suite.plan_search(phase)
            execute(planned, phase)
            searched += planned
    from .collect import collect

    table = collect(sdir, run_ids=[p.run_id for p in planned_all], log=log)
    budget = write_budget(sdir, suite, planned_all)
    log(prog.line())
    return {"suite": suite.name, "results": str(sdir), "runs": len(planned_all), "progress": prog,
            "table": table, "budget": budget}


def _lower_is_better(key: str) -> bool:
    return metric(key).lower_is_better


def _read(sdir: Path, run_id: str) -> Optional[Dict[str, Any]]:
    try:
        return read_record(run_dir(sdir, run_id))
    except CorruptRecord:
        return None


def stamp_search_meta(sdir: Path, planned: List[PlannedRun]) -> None:
    """Make every finished record's ``search`` section carry its planned run's metadata (phase,
    rung, budget). The serial executor writes it with the record; a Ray trial rebuilds its runs
    from phase, config id and sample only, so the rest is added here, after the phase, atomically."""
    for p in planned:
        rec = _read(sdir, p.run_id)
        if not rec or rec["status"] not in DONE_STATES:
            continue
        search = dict(rec.get("search") or {})
        meta = p.meta()
        if any(search.get(k, _MISSING) != v for k, v in meta.items()):
            search.update(meta)
            rec["search"] = search
            atomic_write_json(run_dir(sdir, p.run_id) / RECORD_NAME, rec)


_MISSING = object()


def promote(sdir: Path, suite: Suite, planned: List[PlannedRun], rung: int, prog: Optional[SuiteProgress] = None,
            log=None) -> Dict[Any, set]:
    """Successive halving, synchronous: from the finished records of rung ``rung``, the samples
    promoted to the next rung in each cell (loss, dataset, other axes): the top max(1, n // eta) by
    the suite's search metric (best over checkpoints; direction from the metric catalogue), ties and
    runs without a finite score (diverged, failed: ranked last) ordered by sample index — so the same
    runs are promoted whatever order results arrived in and after a driver restart. Every cell
    promotes the same number, so every objective keeps the same budget. Runs not promoted that
    ended ``done`` become ``stopped`` (scores kept; finished for the skip logic); each record gets
    ``search.rung_rank`` (1 = best) and ``search.promoted``."""
    metric = suite.search["metric"]
    sign = 1.0 if _lower_is_better(metric) else -1.0
    cells: Dict[Any, List[PlannedRun]] = {}
    for p in planned:
        cells.setdefault(suite.cell_of(p.spec), []).append(p)
    out: Dict[Any, set] = {}
    for key, runs in cells.items():
        recs = {p.run_id: _read(sdir, p.run_id) for p in runs}

        def order(p: PlannedRun):
            rec = recs[p.run_id]
            v = None
            if rec and rec["status"] in ("done", "stopped"):
                v = selection_score(rec, metric)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            return (0, sign * v, p.sample) if ok else (1, 0.0, p.sample)
        ranked = sorted(runs, key=order)
        sizes = suite.rung_sizes(runs[0].budget.get("cell_configs", len(runs)))
        keep = sizes[rung + 1] if rung + 1 < len(sizes) else len(runs)
        out[key] = {p.sample for p in ranked[:keep]}
        for rank, p in enumerate(ranked, 1):
            rec = recs[p.run_id]
            if not rec or rec["status"] not in DONE_STATES:
                continue
            promoted = p.sample in out[key]
            status = rec["status"]
            if status == "done" and not promoted:
                status = "stopped"
            elif status == "stopped" and promoted:  # promotions recomputed differently (a redone run)
                status = "done"
            search = dict(rec.get("search") or {})
            if status != rec["status"] or search.get("rung_rank") != rank or search.get("promoted") != promoted:
                search.update({"rung_rank": rank, "promoted": promoted})
                rec["search"], rec["status"] = search, status
                atomic_write_json(run_dir(sdir, p.run_id) / RECORD_NAME, rec)
                if status == "stopped" and prog is not None:
                    prog.add("stopped")
        if log:
            log(f"{suite.name}: rung {rung + 1} of {key[0]}/{key[1]}: samples {sorted(out[key])} promoted "
                f"({keep} of {len(runs)} by {metric})")
    return out


def best_configs(sdir: Path, suite: Suite, searched: List[PlannedRun]) -> Dict[Any, Any]:
    """Per (loss, dataset, other axes): the searched configuration with the best value of the
    suite's metric (the selection score of its best checkpoint: on the validation split unless
    eval.selection is test); ties go to the earliest sample. Under halving
    ``searched`` holds the last rung only (the full budget)."""
    metric = suite.search["metric"]
    sign = 1 if _lower_is_better(metric) else -1
    best: Dict[Any, Any] = {}
    for p in searched:
        rec = _read(sdir, p.run_id)
        if not rec or rec["status"] != "done":
            continue
        v = selection_score(rec, metric)
        if v is None or not math.isfinite(v):
            continue
        key = suite.cell_of(p.spec)
        if key not in best or sign * v < sign * best[key][0]:
            best[key] = (v, p.spec)
    return {k: v[1] for k, v in best.items()}


def budget_table(sdir: Path, suite: Suite, planned: List[PlannedRun]) -> Dict[str, Any]:
    """Compute per cell (loss, dataset, other axes): configurations tried, runs, D steps planned and
    trained (record counts.d_steps), wall seconds (record cost.wall_s), in total and per phase (and
    per rung under halving). Wall time is recorded, never enforced: it differs by machine."""
    cells: Dict[Any, Dict[str, Any]] = {}
    for p in planned:
        loss, ds, axes = suite.cell_of(p.spec)
        cell = cells.setdefault((loss, ds, axes), {"loss": loss, "dataset": ds, "axes": axes, "phases": {}})
        ph = cell["phases"].setdefault(p.phase, {"configurations": set(), "runs": 0, "d_steps_planned": 0,
                                                 "d_steps": 0, "wall_s": 0.0, "rungs": {}})
        rec = _read(sdir, p.run_id)
        done = bool(rec) and rec["status"] in DONE_STATES
        d = int((rec.get("counts") or {}).get("d_steps", 0)) if done else 0
        w = float((rec.get("cost") or {}).get("wall_s", 0.0) or 0.0) if done else 0.0
        rows = [ph]
        if p.rung is not None:
            rows.append(ph["rungs"].setdefault(str(p.rung), {"rung": p.rung, "steps": p.spec.steps,
                                                             "configurations": set(), "runs": 0,
                                                             "d_steps_planned": 0, "d_steps": 0, "wall_s": 0.0}))
        for row in rows:
            row["configurations"].add(p.sample if p.phase in ("wide", "narrow") else p.config_id)
            row["runs"] += 1 if done else 0
            row["d_steps_planned"] += p.spec.steps
            row["d_steps"] += d
            row["wall_s"] += w
    out = []
    for cell in cells.values():
        tot = {"configurations": 0, "runs": 0, "d_steps_planned": 0, "d_steps": 0, "wall_s": 0.0}
        for name, ph in cell["phases"].items():
            ph["configurations"] = len(ph["configurations"])
            for r in ph["rungs"].values():
                r["configurations"] = len(r["configurations"])
            ph["rungs"] = [ph["rungs"][k] for k in sorted(ph["rungs"], key=int)]
            if not ph["rungs"]:
                del ph["rungs"]
            for k in tot:
                if k == "configurations" and name == "final":
                    continue  # the final phase retrains a searched configuration
                tot[k] += ph[k]
        cell.update(tot)
        out.append(cell)
    out.sort(key=lambda c: (c["dataset"], c["loss"], c["axes"]))
    return {"suite": suite.name, "version": suite.version, "equal_budgets": suite.unequal_budgets is None,
            "unequal_budgets": suite.unequal_budgets, "halving": copy.deepcopy(suite.halving),
            "metric": (suite.search or {}).get("metric"), "cells": out}


def write_budget(sdir: Path, suite: Suite, planned: List[PlannedRun]) -> Dict[str, Any]:
    """results/<suite>/budget.json (atomically): ``budget_table`` of the suite's planned runs."""
    table = budget_table(sdir, suite, planned)
    atomic_write_json(Path(sdir) / "budget.json", table)
    return table


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


