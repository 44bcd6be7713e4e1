"""The training engine: ``train_unit(specs, outs)`` trains one run, or K runs that differ only in
seed packed into one batched model, and returns one record per run.

    member.py   Run: one run's state (networks, optimisers, streams, curves, scores)
    policy.py   what every step kind shares: noise, clipping, NaN injection, packability
    solo.py     SoloStep: one run, unbatched kernels
    packed.py   PackedStep: K runs through torch.func (stack_module_state + vmap)
    loop.py     Loop: the one loop (schedule, divergence, failures, evaluation, checkpoints)
    scoring.py  evaluation during training (best over checkpoints, init, final)
    artifacts.py checkpoints, samples, events; record.py the record and the environment

The engine knows nothing of suites or executors: they call ``train_unit`` with the folders to
write and an optional checkpoint hook."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from ..config import RunSpec
from ..results import RECORD_NAME, atomic_write_json
from .artifacts import event, read_checkpoint
from .loop import CheckpointHook, Loop, PackedStepError, write_record
from .member import Run
from .packed import PackedStep
from .policy import check_packable, pack_key, pack_refusal  # noqa: F401
from .record import environment, make_record  # noqa: F401
from .likelihood import LikelihoodStep
from .solo import SoloStep

__all__ = ["train_unit", "train", "Run", "SoloStep", "PackedStep", "Loop", "read_checkpoint", "make_record",
           "environment", "check_packable", "pack_key", "pack_refusal"]


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


STEP_KINDS = {"adversarial": SoloStep, "likelihood": LikelihoodStep}  # one run, by the objective's Caps.step


def _build(specs: Sequence[RunSpec]):
    if len(specs) > 1:
        return PackedStep(specs)
    run = Run(specs[0])
    return STEP_KINDS[run.objective.caps.step](run)


def _resume(kind, specs: Sequence[RunSpec], outs: Sequence[Optional[Path]]):
    """The step kind, resumed from its members' checkpoints where all exist and stand at one step;
    anything unreadable means a fresh start (it costs progress, never the run)."""
    what = f"packed unit of {len(specs)}" if len(specs) > 1 else str(outs[0])
    try:
        cks = [read_checkpoint(out, s.run_id) for s, out in zip(specs, outs)]
        if any(ck is None for ck in cks):
            return kind
        if len({ck["step"] for ck in cks}) != 1:
            _note(f"{what}: members' checkpoints stand at different steps "
                  f"({sorted({ck['step'] for ck in cks})}); starting from scratch")
            return kind
        kind.resume(cks)
        return kind
    except Exception as e:  # e.g. a corrupt checkpoint file
        why = f"cannot resume ({type(e).__name__}: {e}); starting from scratch"
        _note(f"{what}: {why}")
        fresh = _build(specs)
        for m, out in zip(fresh.members, outs):
            m.restarts.append(why)  # the record says so
            event(out, "restart", 0, why)
        return fresh


def train_unit(specs: Sequence[RunSpec], outs: Sequence[Optional[Path]], suite: Optional[str] = None,
               progress: bool = False, resume: bool = True, on_checkpoint: Optional[CheckpointHook] = None,
               metas: Optional[Sequence[Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
    """Train one unit: a run, or runs that differ only in seed (packed). Writes each run's
    record.json, checkpoints/latest.pt, samples/ and events.jsonl under its folder in ``outs``
    (where given) and returns the records. A run's divergence or failure is its record, never an
    exception; ``InfrastructureError`` from ``on_checkpoint(records)`` (called after each
    checkpoint of the unit) propagates. If the shared packed update raises, the members are
    retried once, solo."""
    t_wall = time.perf_counter()
    outs = [Path(o) if o is not None else None for o in outs]
    if specs[0].threads:
        torch.set_num_threads(int(specs[0].threads))
    if len(specs) > 1:
        check_packable(specs)
    try:
        kind = _build(specs)
        if resume:
            kind = _resume(kind, specs, outs)
        for m in kind.members:
            m.attach_data()
    except Exception as e:  # a run that cannot even start (its data, model or objective)
        if len(specs) > 1:
            return _unpacked(specs, outs, suite, progress, resume, on_checkpoint, metas, e)
        return [_not_started(specs[0], outs[0], suite, e, time.perf_counter() - t_wall, metas)]
    loop = Loop(kind, outs, suite=suite, progress=progress, on_checkpoint=on_checkpoint)
    for m, out in zip(kind.members, outs):
        event(out, "start", m.step)
    try:
        loop.run()
    except PackedStepError as e:
        return _unpacked(specs, outs, suite, progress, resume, on_checkpoint, metas, e)
    return loop.records(time.perf_counter() - t_wall, metas)


def _unpacked(specs, outs, suite, progress, resume, on_checkpoint, metas, error) -> List[Dict[str, Any]]:
    """The packed unit raised in its shared work: train its members one by one (each resumes
    from its own checkpoint where the pack wrote one), so only a member that fails alone ends
    ``failed``."""
    _note(f"packed unit of {len(specs)} ({specs[0].loss}/{specs[0].dataset}) raised "
          f"{type(error).__name__}: {error}; retrying its runs one by one")
    recs = []
    for k, (spec, out) in enumerate(zip(specs, outs)):
        rec = train_unit([spec], [out], suite=suite, progress=progress, resume=resume,
                         on_checkpoint=on_checkpoint, metas=[(metas[k] if metas else None) or {}])[0]
        rec["cost"]["pack_fallback"] = f"{type(error).__name__}: {error}"
        if out is not None:
            atomic_write_json(out / RECORD_NAME, rec)
        recs.append(rec)
    return recs


def _not_started(spec, out, suite, error, wall_s, metas) -> Dict[str, Any]:
    import traceback

    rec = make_record(spec, None, "failed", f"{type(error).__name__}: {error}", None, wall_s, suite, out)
    rec["search"] = dict((metas[0] if metas else None) or {})
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "traceback.txt").write_text(traceback.format_exc())
    write_record(rec, out)
    return rec


def train(spec: RunSpec, out_dir: Optional[Path] = None, progress: bool = True, resume: bool = True,
          suite: Optional[str] = None, on_checkpoint: Optional[CheckpointHook] = None,
          meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train one run (see ``train_unit``); returns its record."""
    return train_unit([spec], [out_dir], suite=suite, progress=progress, resume=resume,
                      on_checkpoint=on_checkpoint, metas=[meta or {}])[0]
