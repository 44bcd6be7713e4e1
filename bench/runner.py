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


def _train_unit(unit: List[PlannedRun], outs: List[Path], suite_name: str, progress: bool,
                on_checkpoint=None) -> List[Dict[str, Any]]:
    """Train one unit (a run, or runs packed together). ``on_checkpoint()`` is called after each
    intermediate checkpoint of the unit (not the final one)."""
    from .engine import train_unit

    hook = None
    if on_checkpoint is not None:
        def hook(recs):
            if any(r["status"] == "running" for r in recs):
                on_checkpoint()
    return train_unit([p.spec for p in unit], outs, suite=suite_name, progress=progress and len(unit) == 1,
                      metas=[p.meta() for p in unit], on_checkpoint=hook)


# ---- serial -------------------------------------------------------------------------------
def _run_serial(units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, progress, log) -> None:
    for unit in units:
        recs = _train_unit(unit, [run_dir(sdir, p.run_id) for p in unit], suite.name, progress)
        for p, rec in zip(unit, recs):
            (run_dir(sdir, p.run_id) / RESUME_NAME).unlink(missing_ok=True)  # a Ray pointer, if any, is stale
            prog.add(rec["status"])
            if rec["status"] == "failed":
                log(f"run {p.run_id} ({p.spec.loss}/{p.spec.dataset}/seed {p.spec.seed}) failed: {rec['reason']}")
        log(prog.line())


# ---- Ray Tune -----------------------------------------------------------------------------
# A trial trains its unit in a folder local to its node and reports every checkpoint through
# Tune (``tune.report(..., checkpoint=...)``), so checkpoints live in Tune's storage: a folder
# or any URI Tune can write (s3://, gs://, file://, ...). A retried trial (FailureConfig)
# restores from ``tune.get_checkpoint()``. The driver keeps a pointer to each run's latest
# checkpoint in results/ (RESUME_NAME), so a re-launched suite resumes unfinished runs too.
# Results carry only small metadata: the driver reads each finished run's record, samples and
# events out of the trial's final checkpoint, and results/ is written by the driver alone.
RESUME_NAME = "resume.json"


def _restore_unit(local: Path, unit: List[PlannedRun], tune_ckpt, resume_from: Dict[str, str], log) -> str:
    """Fill the trial's local folder from Tune's checkpoint of this trial (a retry), else from the
    driver's pointers to each run's latest checkpoint (a re-launched suite). Returns the source."""
    import tempfile

    if tune_ckpt is not None:
        tune_ckpt.to_directory(str(local))
        return "tune"
    from ray.tune import Checkpoint

    fetched: Dict[str, Path] = {}
    source = "none"
    try:
        for p in unit:
            uri = resume_from.get(p.run_id)
            if not uri:
                continue
            try:
                if uri not in fetched:
                    fetched[uri] = Path(tempfile.mkdtemp(prefix="ganbench-restore-"))
                    Checkpoint(path=uri).to_directory(str(fetched[uri]))
                src = fetched[uri] / p.run_id
                if src.is_dir():
                    shutil.copytree(src, local / p.run_id, dirs_exist_ok=True)
                    source = "pointer"
                else:
                    log(f"run {p.run_id}: {uri} holds no folder for it; starting from scratch")
            except Exception as e:  # a vanished checkpoint costs the run its progress, nothing else
                log(f"run {p.run_id}: cannot restore from {uri} ({type(e).__name__}: {e}); starting from scratch")
    finally:
        for d in fetched.values():
            shutil.rmtree(d, ignore_errors=True)
    return source


def _trial(config: Dict[str, Any]) -> None:
    """One Tune trial = one run (or one packed unit of runs); see the section comment."""
    import tempfile

    from ray import tune

    cfg = config["run"]  # param_space = {"run": grid_search([...])}
    unit = [PlannedRun(spec_from_dict(u["spec"]), u["meta"]["phase"], u["meta"]["config_id"], u["meta"]["sample"])
            for u in cfg["unit"]]
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    local = Path(tempfile.mkdtemp(prefix="ganbench-trial-"))
    try:
        _restore_unit(local, unit, tune.get_checkpoint(), cfg.get("resume_from", {}), log)
        outs = [local / p.run_id for p in unit]

        def report_checkpoint():
            tune.report({"final": False}, checkpoint=tune.Checkpoint.from_directory(str(local)))

        recs = _train_unit(unit, outs, cfg["suite"], progress=False, on_checkpoint=report_checkpoint)
        tune.report({"final": True, "run_ids": json.dumps([r["run_id"] for r in recs]),
                     "status": ",".join(r["status"] for r in recs)},
                    checkpoint=tune.Checkpoint.from_directory(str(local)))
    finally:
        shutil.rmtree(local, ignore_errors=True)


def storage_uri(storage: Optional[str], sdir: Path) -> str:
    """Tune's storage: a URI as given, a folder made absolute, default results/<suite>/tune."""
    if storage and "://" in storage:
        return storage
    return str(Path(storage).resolve() if storage else (sdir / "tune").resolve())


def checkpoint_uri(ckpt, storage: str) -> str:
    """Where a persisted Tune checkpoint lives, as a URI ``tune.Checkpoint(path=...)`` and
    pyarrow can open: the storage URI (scheme, host and query options kept) with the
    checkpoint's path below the storage root."""
    if "://" not in storage:
        return str(ckpt.path)
    import pyarrow.fs

    base, query = (storage.split("?", 1) + [""])[:2]
    _, root = pyarrow.fs.FileSystem.from_uri(storage)
    path = str(ckpt.path)
    if not path.startswith(root.rstrip("/")):
        raise ValueError(f"checkpoint {path} is not under the storage {storage}")
    rel = path[len(root.rstrip("/")):].lstrip("/")
    return f"{base.rstrip('/')}/{rel}" + (f"?{query}" if query else "")


def _join_uri(uri: str, *parts: str) -> str:
    base, query = (uri.split("?", 1) + [""])[:2]
    return "/".join([base.rstrip("/"), *parts]) + (f"?{query}" if query else "")


def _run_ray(units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, address, max_concurrent,
             storage, log) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray
    from ray import tune

    storage = storage_uri(storage, sdir)
    if "://" not in storage:
        Path(storage).mkdir(parents=True, exist_ok=True)
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
        configs = []
        for unit in units:
            resume = {p.run_id: ptr["checkpoint"] for p in unit if (ptr := read_resume(sdir, p.run_id))}
            configs.append({"unit": [{"spec": to_dict(p.spec), "meta": p.meta()} for p in unit],
                            "suite": suite.name, "resume_from": resume})
        cb = _make_callback_class()(prog, sdir, storage, log)
        tuner = tune.Tuner(
            trainable,
            param_space={"run": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent or 0, reuse_actors=True),
            run_config=tune.RunConfig(name=f"{suite.name}-{int(time.time())}", storage_path=storage,
                                      failure_config=tune.FailureConfig(max_failures=2),
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                                      verbose=0, callbacks=[cb]),
        )
        grid = tuner.fit()
        for r in grid:
            unit_cfg = r.config["run"]["unit"] if r.config else []
            final_ck = None
            if r.metrics and r.checkpoint is not None and is_final_checkpoint(r.metrics, r.checkpoint):
                final_ck = checkpoint_uri(r.checkpoint, storage)
            for u in unit_cfg:
                spec = spec_from_dict(u["spec"])
                if spec.run_id in cb.adopted:
                    continue
                if final_ck is not None and cb.adopt_run(spec.run_id, final_ck):
                    continue
                if record_state(sdir, spec.run_id, log) not in FINISHED:
                    err = str(r.error) if r.error else "trial ended without a record"
                    _write_failed(sdir, spec, u, suite.name, err)
                    prog.add("failed")
                    log(f"run {spec.run_id} failed in Ray: {err.splitlines()[0] if err else ''}")
    finally:
        if started:
            ray.shutdown()


def is_final_checkpoint(result: Dict[str, Any], ckpt) -> bool:
    """Whether ``ckpt`` is the checkpoint reported with the trial's final result ``result``
    (matched by folder name, so a stale final result never pairs with a later checkpoint)."""
    return bool(result.get("final")) and result.get("checkpoint_dir_name") in (None, Path(str(ckpt.path)).name)


def read_resume(sdir: Path, run_id: str) -> Optional[Dict[str, Any]]:
    try:
        return json.loads((run_dir(sdir, run_id) / RESUME_NAME).read_text())
    except (OSError, ValueError):
        return None


def _write_failed(sdir: Path, spec, cfg, suite_name: str, reason: str) -> None:
    from .train import make_record

    rec = make_record(spec, None, "failed", reason, None, None, suite_name, None)
    rec["search"] = cfg.get("meta", {})
    atomic_write_json(run_dir(sdir, spec.run_id) / RECORD_NAME, rec)


def adopt_from_checkpoint(sdir: Path, run_id: str, ckpt_uri: str) -> Dict[str, Any]:
    """Bring a finished run out of its trial's final checkpoint into results/: samples and
    events first, the record (authoritative) last, its checkpoint artifact pointing into Tune's
    storage. A failed run keeps its resume pointer (a re-run resumes it); others drop it."""
    import pyarrow.fs

    fs, root = pyarrow.fs.FileSystem.from_uri(ckpt_uri if "://" in ckpt_uri else str(Path(ckpt_uri).resolve()))
    src = f"{root.rstrip('/')}/{run_id}"
    dest = run_dir(sdir, run_id)
    dest.mkdir(parents=True, exist_ok=True)

    def read(rel: str) -> Optional[bytes]:
        try:
            with fs.open_input_stream(f"{src}/{rel}") as fh:
                return fh.read()
        except (OSError, FileNotFoundError):
            return None

    raw = read(RECORD_NAME)
    if raw is None:
        raise FileNotFoundError(f"{ckpt_uri}: no {run_id}/{RECORD_NAME} in the trial's final checkpoint")
    rec = json.loads(raw)
    sel = pyarrow.fs.FileSelector(f"{src}/samples", allow_not_found=True, recursive=True)
    for info in fs.get_file_info(sel):
        if info.type == pyarrow.fs.FileType.File:
            rel = info.path[len(src) + 1:]
            atomic_write_bytes(dest / rel, read(rel) or b"")
    events = read("events.jsonl")
    if events is not None:  # merged: attempts that started over keep their history
        old = (dest / "events.jsonl").read_text().splitlines() if (dest / "events.jsonl").exists() else []
        seen = set(old)
        new = [ln for ln in events.decode().splitlines() if ln not in seen]
        atomic_write_bytes(dest / "events.jsonl", ("\n".join(old + new) + "\n").encode())
    arts = rec.get("artifacts", {})
    if "checkpoint" in arts:
        arts["checkpoint"] = _join_uri(ckpt_uri, run_id, arts["checkpoint"])
    atomic_write_json(dest / RECORD_NAME, rec)
    if rec["status"] == "failed":
        atomic_write_json(dest / RESUME_NAME, {"checkpoint": ckpt_uri})
    else:
        (dest / RESUME_NAME).unlink(missing_ok=True)
    return rec


def _make_callback_class():
    from ray.tune import Callback

    class ProgressCallback(Callback):
        """On each checkpoint of a trial, points its runs' resume pointers at it; on the final one
        (paired with the final result by checkpoint folder name), adopts the runs into results/.
        Tune calls ``on_trial_result`` before ``on_checkpoint`` for the same report. Nothing here
        raises: an exception in a callback would make Tune drop the checkpoint."""

        def __init__(self, prog: SuiteProgress, sdir: Path, storage: str, log):
            self.prog, self.sdir, self.storage, self.log = prog, sdir, storage, log
            self.final: Dict[str, Dict[str, Any]] = {}  # trial id -> final result awaiting its checkpoint
            self.adopted: set = set()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result.get("final"):
                self.final[trial.trial_id] = result

        def on_trial_recover(self, iteration, trials, trial, **info):
            self.final.pop(trial.trial_id, None)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.final.pop(trial.trial_id, None)

        def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
            try:
                uri = checkpoint_uri(checkpoint, self.storage)
                unit = trial.config["run"]["unit"]
                for u in unit:
                    atomic_write_json(run_dir(self.sdir, spec_from_dict(u["spec"]).run_id) / RESUME_NAME,
                                      {"checkpoint": uri})
                result = self.final.get(trial.trial_id)
                if result is not None and is_final_checkpoint(result, checkpoint):
                    self.final.pop(trial.trial_id)
                    adopted = [self.adopt_run(spec_from_dict(u["spec"]).run_id, uri) for u in unit]
                    if any(adopted):
                        self.log(self.prog.line())
            except Exception as e:  # never let Tune drop the checkpoint over a bookkeeping error
                self.log(f"trial {trial.trial_id}: could not record its checkpoint ({type(e).__name__}: {e})")

        def adopt_run(self, run_id: str, uri: str) -> bool:
            if run_id in self.adopted:
                return False
            try:
                rec = adopt_from_checkpoint(self.sdir, run_id, uri)
            except Exception as e:
                self.log(f"run {run_id}: cannot read its result from {uri} ({type(e).__name__}: {e})")
                return False
            self.adopted.add(run_id)
            self.prog.add(rec["status"])
            if rec["status"] == "failed":
                self.log(f"run {run_id} failed: {rec['reason']}")
            return True

    return ProgressCallback
