"""Executing suites: plan -> skip finished runs -> execute (serial, or Ray Tune) -> collect.

Run identity is the RunSpec's run_id (a hash of the resolved configuration). A run whose
record says ``done`` or ``diverged`` is a result and is skipped (``force`` redoes it); a run
that ``failed``, is ``running`` (interrupted), or whose record is corrupt is run again — and
resumes from its last checkpoint where one exists. Both executors pin torch's threads to the
trial's CPU share, so they compute identical numbers."""
from __future__ import annotations

import copy
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from .config import spec_from_dict, to_dict
from .results import LOWER_IS_BETTER, CorruptRecord, RECORD_NAME, atomic_write_bytes, atomic_write_json, read_record
from .suite import PlannedRun, Suite

FINISHED = ("done", "diverged")


@dataclass
class SuiteProgress:
    total: int
    done: int = 0
    failed: int = 0
    diverged: int = 0
    skipped: int = 0
    corrupt: List[str] = field(default_factory=list)
    t0: float = field(default_factory=time.time)

    def line(self) -> str:
        finished = self.done + self.failed + self.diverged
        el = time.time() - self.t0
        todo = self.total - self.skipped - finished
        eta = el / finished * todo if finished else float("nan")
        eta_s = "?" if math.isnan(eta) else f"{eta / 60:.1f} min"
        return (f"[{self.skipped + finished}/{self.total}] done {self.done + self.skipped} "
                f"(skipped {self.skipped}), diverged {self.diverged}, failed {self.failed}, "
                f"elapsed {el / 60:.1f} min, ETA {eta_s}")

    def add(self, status: str) -> None:
        if status == "done":
            self.done += 1
        elif status == "diverged":
            self.diverged += 1
        else:
            self.failed += 1


def suite_dir(results_root: Path, suite: Suite) -> Path:
    return Path(results_root) / suite.name


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
            units = pack_units(pending, suite.pack)
            if executor == "serial":
                _run_serial(units, sdir, suite, prog, progress, log)
            elif executor == "ray":
                _run_ray(units, sdir, suite, prog, address, max_concurrent, storage, log)
            else:
                raise ValueError(f"unknown executor {executor!r}; valid: ray, serial")
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
    """Group runs that differ only in seed into units of at most k (suite key ``pack``); runs of
    objectives that do not pack, or with per-run fault injection, stay alone. Packing changes
    how runs are computed, not what: each keeps its run id and gets its own record."""
    from .losses import LOSSES

    if k <= 1:
        return [[p] for p in pending]
    groups: Dict[str, List[PlannedRun]] = {}
    units: List[List[PlannedRun]] = []
    for p in pending:
        f = p.spec.fast
        if (not LOSSES.get(p.spec.loss).caps.packable or p.spec.debug.raise_at_step is not None
                or f.bf16 or f.channels_last or f.compile):
            units.append([p])
        else:
            groups.setdefault(p.config_id, []).append(p)
    for g in groups.values():
        units += [g[i:i + k] for i in range(0, len(g), k)]
    return units


def _train_unit(unit: List[PlannedRun], outs: List[Path], suite_name: str, progress: bool) -> List[Dict[str, Any]]:
    from .train import train

    if len(unit) == 1:
        p = unit[0]
        return [train(p.spec, outs[0], progress=progress, suite=suite_name, meta=p.meta())]
    from .pack import train_packed

    return train_packed([p.spec for p in unit], outs, suite=suite_name, metas=[p.meta() for p in unit])


# ---- serial -------------------------------------------------------------------------------
def _run_serial(units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, progress, log) -> None:
    for unit in units:
        recs = _train_unit(unit, [run_dir(sdir, p.run_id) for p in unit], suite.name, progress)
        for p, rec in zip(unit, recs):
            prog.add(rec["status"])
            if rec["status"] == "failed":
                log(f"run {p.run_id} ({p.spec.loss}/{p.spec.dataset}/seed {p.spec.seed}) failed: {rec['reason']}")
        log(prog.line())


# ---- Ray Tune -----------------------------------------------------------------------------
def _trial(config: Dict[str, Any]) -> None:
    """One Tune trial = one run (or one packed unit of runs). It trains into the shared storage
    folder (where its checkpoints live, so a retried or re-launched trial resumes) and sends its
    records back through Tune's results; the driver writes results/."""
    from ray import tune

    unit_cfg = config["run"]["unit"]  # param_space = {"run": grid_search([...])}
    unit = [PlannedRun(spec_from_dict(u["spec"]), u["meta"]["phase"], u["meta"]["config_id"], u["meta"]["sample"])
            for u in unit_cfg]
    outs = [Path(config["run"]["trial_root"]) / p.run_id for p in unit]
    recs = _train_unit(unit, outs, config["run"]["suite"], progress=False)
    tune.report({"final": True, "records": json.dumps(recs), "trial_outs": json.dumps([str(o) for o in outs]),
                 "status": ",".join(r["status"] for r in recs)})


def _run_ray(units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, address, max_concurrent,
             storage, log) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray import tune

    storage_path = Path(storage).resolve() if storage else (sdir / "tune").resolve()
    trial_root = storage_path / "trials"
    trial_root.mkdir(parents=True, exist_ok=True)
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}})
        started = True
    try:
        res = {"cpu": suite.resources.get("cpu", 1), "gpu": suite.resources.get("gpu", 0)}
        trainable = tune.with_resources(_trial, res)
        configs = [{"unit": [{"spec": to_dict(p.spec), "meta": p.meta()} for p in unit], "suite": suite.name,
                    "trial_root": str(trial_root)} for unit in units]
        cb = _make_callback_class()(prog, sdir, log)
        tuner = tune.Tuner(
            trainable,
            param_space={"run": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent or 0, reuse_actors=True),
            run_config=tune.RunConfig(name=f"{suite.name}-{int(time.time())}", storage_path=str(storage_path),
                                      failure_config=tune.FailureConfig(max_failures=2), verbose=0,
                                      callbacks=[cb]),
        )
        grid = tuner.fit()
        for r in grid:
            if r.metrics and r.metrics.get("final"):
                continue  # already written by the callback
            unit_cfg = r.config["run"]["unit"] if r.config else []
            for u in unit_cfg:
                spec = spec_from_dict(u["spec"])
                if record_state(sdir, spec.run_id, log) not in FINISHED:
                    err = str(r.error) if r.error else "trial ended without a record"
                    _write_failed(sdir, spec, u, suite.name, err)
                    prog.add("failed")
                    log(f"run {spec.run_id} failed in Ray: {err.splitlines()[0] if err else ''}")
    finally:
        if started:
            ray.shutdown()


def _write_failed(sdir: Path, spec, cfg, suite_name: str, reason: str) -> None:
    from .train import make_record

    rec = make_record(spec, None, "failed", reason, None, None, suite_name, None)
    rec["search"] = cfg.get("meta", {})
    atomic_write_json(run_dir(sdir, spec.run_id) / RECORD_NAME, rec)


def adopt_trial_output(sdir: Path, rec: Dict[str, Any], trial_out: Path) -> None:
    """Write a trial's record into results/ and bring its samples along; checkpoints stay
    in the trial's storage folder, referenced by absolute path."""
    dest = run_dir(sdir, rec["run_id"])
    dest.mkdir(parents=True, exist_ok=True)
    src_samples = trial_out / "samples"
    if src_samples.is_dir():
        shutil.copytree(src_samples, dest / "samples", dirs_exist_ok=True)
    if (trial_out / "events.jsonl").exists():
        shutil.copy2(trial_out / "events.jsonl", dest / "events.jsonl")
    if "checkpoint" in rec.get("artifacts", {}):
        rec["artifacts"]["checkpoint"] = str((trial_out / rec["artifacts"]["checkpoint"]).resolve())
    atomic_write_json(dest / RECORD_NAME, rec)


def _make_callback_class():
    from ray.tune import Callback

    class ProgressCallback(Callback):
        def __init__(self, prog: SuiteProgress, sdir: Path, log):
            self.prog, self.sdir, self.log = prog, sdir, log

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result.get("final") and result.get("records"):
                for rec, out in zip(json.loads(result["records"]), json.loads(result["trial_outs"])):
                    adopt_trial_output(self.sdir, rec, Path(out))
                    self.prog.add(rec["status"])
                    if rec["status"] == "failed":
                        self.log(f"run {rec['run_id']} failed: {rec['reason']}")
                self.log(self.prog.line())

    return ProgressCallback
