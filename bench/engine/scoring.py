"""Scoring a member during training: the initial generator (a baseline), every evaluation
checkpoint (best-over-checkpoints kept per metric, in the direction the metric catalogue
declares) and the final generator."""
from __future__ import annotations

import math
import time

from ..errors import Diverged, NonFiniteSamples
from ..metrics.catalogue import METRICS


def evaluate_member(run, final: bool, init: bool = False) -> None:
    spec = run.spec
    if spec.eval.extractor == "none":
        return
    from ..metrics import evaluate

    t = time.perf_counter()
    try:
        scores = evaluate(run.sample_fn(spec.eval.seed), spec.dataset, spec.eval, device=str(run.device),
                          data_root=spec.data_root)
    except NonFiniteSamples:
        raise Diverged(run.step, "generator output") from None
    run.eval_s += time.perf_counter() - t
    run.provenance = dict(scores.provenance)
    if init:
        run.init = {k: float(v) for k, v in scores.values.items() if isinstance(v, (int, float))}
    for name, value in scores.values.items():
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        run.log(f"eval.{name}", run.step, value)
        if init:
            continue  # the initial generator is a baseline, not a checkpoint candidate
        m = METRICS.get(name)
        if m is None:
            continue  # a score no metric declares has no direction: logged, never "best"
        if name not in run.best or m.better(value, run.best[name]):
            run.best[name], run.best_step[name] = float(value), run.step
    if final:
        run.provenance["final_checkpoint_step"] = run.step
        run.final = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in scores.values.items()}
        run.collapsed = scores.collapsed
