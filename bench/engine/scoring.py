"""Scoring a member during training: the initial generator (a baseline), every evaluation
checkpoint (best-over-checkpoints kept per metric, in the direction the metric catalogue
declares) and the final generator.

Which split selects the best checkpoint is ``eval.selection``:

- ``validation`` (default): every evaluation checkpoint is scored on the validation split (a
  fixed, class-stratified 10% of the training split that the run does not train on; see
  ``bench.data.validation_indices``) with latents drawn from ``eval.seed + SELECTION_LATENT_OFFSET``,
  independent of the reported ones. Those scores are the curves and choose the best checkpoint
  per metric (``select``). The generator at each chosen step is kept, and when the run ends it
  is scored on ``eval.ref_split`` with the reporting latents: that is ``best``. ``init`` and
  ``final`` are scored on ``eval.ref_split`` too. Nothing reported was used to choose.
- ``test``: every checkpoint is scored on ``eval.ref_split`` and the best is chosen and reported
  on it (optimistic: the protocol of Lucic et al. 2018). ``select`` equals ``best``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Dict, Optional

from ..errors import Diverged, NonFiniteSamples
from ..metrics.catalogue import METRICS

# selection latents: eval.seed + this (reported scores use eval.seed itself)
SELECTION_LATENT_OFFSET = 1_000_003

__all__ = ["evaluate_member", "finish_selection", "SELECTION_LATENT_OFFSET"]


def _numbers(values) -> Dict[str, float]:
    return {k: float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _score(run, split: str, seed: int, G=None):
    """Scores of ``run``'s generator (or ``G``) against ``split`` with latents from ``seed``."""
    from ..data import load
    from ..metrics import evaluate

    spec = run.spec
    settings = spec.eval
    if split != settings.ref_split:
        n_split = len(load(spec.dataset, split, spec.data_root))
        n_real = min(settings.num_real or settings.num_samples, n_split)
        settings = dataclasses.replace(settings, ref_split=split, num_real=n_real)
    t = time.perf_counter()
    try:
        scores = evaluate(run.sample_fn(seed, G), spec.dataset, settings, device=str(run.device),
                          data_root=spec.data_root)
    except NonFiniteSamples:
        raise Diverged(run.step, "generator output") from None
    run.eval_s += time.perf_counter() - t
    return scores


def _on_validation(run) -> bool:
    return run.spec.eval.selection == "validation"


def evaluate_member(run, final: bool, init: bool = False) -> None:
    spec = run.spec
    if spec.eval.extractor == "none":
        return
    report_seed = spec.eval.seed
    if _on_validation(run):
        chooser = _score(run, "val", report_seed + SELECTION_LATENT_OFFSET)
        reported = _score(run, spec.eval.ref_split, report_seed) if (init or final) else None
    else:
        chooser = reported = _score(run, spec.eval.ref_split, report_seed)
    if reported is not None or not run.provenance:  # the record describes the reporting evaluation
        run.provenance = dict((reported or chooser).provenance)
    if init:
        run.init = _numbers(reported.values)
    improved = False
    for name, value in _numbers(chooser.values).items():
        run.log(f"eval.{name}", run.step, value)
        if init:
            continue  # the initial generator is a baseline, not a checkpoint candidate
        m = METRICS.get(name)
        if m is None:
            continue  # a score no metric declares has no direction: logged, never "best"
        if name not in run.select or m.better(value, run.select[name]):
            run.select[name], run.best_step[name] = value, run.step
            improved = True
    if _on_validation(run) and improved:
        run.best_g[run.step] = {k: v.detach().cpu().clone() for k, v in run.G.state_dict().items()}
        run.best_g = {s: w for s, w in run.best_g.items() if s in set(run.best_step.values())}
    if not _on_validation(run):
        run.best = dict(run.select)
    if final:
        run.final = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in reported.values.items()}
        run.collapsed = reported.collapsed
        run.provenance["final_checkpoint_step"] = run.step
    run.provenance["selection"] = selection_text(spec)
    if _on_validation(run):
        run.provenance["selection_split"] = {"split": "val", "n_real": chooser.provenance.get("n_real"),
                                             "latent_seed": report_seed + SELECTION_LATENT_OFFSET}


def finish_selection(run) -> None:
    """Under validation selection: score the generator of every selected step on the reporting
    split (the final generator's scores are reused), filling ``best``. Call once the run has
    ended (done or diverged); a no-op for test selection or when nothing was selected."""
    if not _on_validation(run) or run.spec.eval.extractor == "none" or not run.best_step:
        return
    final_step: Optional[int] = run.provenance.get("final_checkpoint_step") if run.final else None
    best: Dict[str, float] = {}
    for step in sorted(set(run.best_step.values())):
        if step == final_step:
            values = _numbers(run.final)
        else:
            values = _numbers(_score(run, run.spec.eval.ref_split, run.spec.eval.seed,
                                     run.generator_at(run.best_g[step])).values)
        best.update({n: values[n] for n, s in run.best_step.items() if s == step and n in values})
    run.best = best


def selection_text(spec) -> str:
    split = spec.eval.ref_split
    if spec.eval.selection == "validation":
        return (f"best checkpoint chosen on the validation split (10% of train, held out; independent latents), "
                f"scored on {split}")
    return f"best checkpoint chosen and scored on {split} (optimistic, as Lucic et al. 2018)"
