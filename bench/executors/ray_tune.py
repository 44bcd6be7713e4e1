"""The Ray Tune executor: one trial per unit, on one machine or an existing Ray cluster.

A trial trains its unit in a folder local to its node and reports every checkpoint through
Tune (``tune.report(..., checkpoint=...)``), so checkpoints live in Tune's storage: a folder
or any URI Tune can write (s3://, gs://, file://, ...). A retried trial (FailureConfig)
restores from ``tune.get_checkpoint()``. The driver keeps a pointer to each run's latest
checkpoint in results/ (RESUME_NAME), so a re-launched suite resumes unfinished runs too.
Results carry only small metadata: the driver reads each finished run's record, samples and
events out of the trial's final checkpoint, and results/ is written by the driver alone.
Plugins named by the suite's ``imports`` load in every trial before its specs are built."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..config import to_dict
from ..results import RECORD_NAME, atomic_write_bytes, atomic_write_json
from ..suite import PlannedRun, Suite
from ..validate import spec_from_dict
from .base import EXECUTORS, FINISHED, RESUME_NAME, Executor, SuiteProgress, record_state, run_dir, train_planned

# Fault injection (tests/fault_injection.py): where set, each trial notes which process trains
# which runs (``<dir>/<pid>.json``), so a harness can kill the worker of a chosen trial.
TRIAL_PID_DIR = "GANBENCH_TRIAL_PID_DIR"


def _note_worker(unit: List[PlannedRun]) -> None:
    where = os.environ.get(TRIAL_PID_DIR)
    if where:
        atomic_write_json(Path(where) / f"{os.getpid()}.json",
                          {"pid": os.getpid(), "runs": [p.run_id for p in unit], "t": time.time()})


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
    from ..plugins import load_plugins

    for d in cfg.get("sys_path", []):  # where the driver found the suite's one-off modules
        if d not in sys.path:
            sys.path.append(d)
    load_plugins(cfg.get("imports", []), where=f"suite {cfg['suite']}: imports")
    unit = [PlannedRun(spec_from_dict(u["spec"]), u["meta"]["phase"], u["meta"]["config_id"], u["meta"]["sample"])
            for u in cfg["unit"]]
    _note_worker(unit)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    local = Path(tempfile.mkdtemp(prefix="ganbench-trial-"))
    try:
        _restore_unit(local, unit, tune.get_checkpoint(), cfg.get("resume_from", {}), log)
        outs = [local / p.run_id for p in unit]

        def report_checkpoint():
            tune.report({"final": False}, checkpoint=tune.Checkpoint.from_directory(str(local)))

        recs = train_planned(unit, outs, cfg["suite"], progress=False, on_checkpoint=report_checkpoint)
        tune.report({"final": True, "run_ids": json.dumps([r["run_id"] for r in recs]),
                     "status": ",".join(r["status"] for r in recs)},
                    checkpoint=tune.Checkpoint.from_directory(str(local)))
    finally:
        shutil.rmtree(local, ignore_errors=True)


def _module_dirs(suite: Suite) -> List[str]:
    """Folders a trial adds to its import path for the suite's ``imports``: the driver's working
    folder and the suite file's folder (on a multi-node cluster, install plugins on every node)."""
    dirs = [str(Path.cwd())]
    if suite.path is not None:
        dirs.append(str(Path(suite.path).resolve().parent))
    return dirs


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


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    def run(self, units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, log) -> None:
        run_ray(units, sdir, suite, prog, self.address, self.max_concurrent, self.storage, log)


def run_ray(units: List[List[PlannedRun]], sdir: Path, suite: Suite, prog: SuiteProgress, address, max_concurrent,
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
            env = {k: os.environ[k] for k in ("RAY_USAGE_STATS_ENABLED", TRIAL_PID_DIR) if k in os.environ}
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"env_vars": env})
        started = True
    try:
        res = {"cpu": suite.resources.get("cpu", 1), "gpu": suite.resources.get("gpu", 0)}
        trainable = tune.with_resources(_trial, res)
        configs = []
        for unit in units:
            resume = {p.run_id: ptr["checkpoint"] for p in unit if (ptr := read_resume(sdir, p.run_id))}
            configs.append({"unit": [{"spec": to_dict(p.spec), "meta": p.meta()} for p in unit],
                            "suite": suite.name, "resume_from": resume, "imports": list(suite.imports),
                            "sys_path": _module_dirs(suite)})
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
    from ..engine import make_record

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
