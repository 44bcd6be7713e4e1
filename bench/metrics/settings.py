"""Evaluation settings: which extractor, which metrics, how many samples -- and the checks that
refuse settings that cannot work, before any run starts (:func:`check_eval_settings`) and again
when evaluating. Light (no torch)."""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Tuple

from ..errors import MetricsError
from .catalogue import groups
from .extractor_registry import AUTO, DATA_KINDS, EXTRACTORS, NONE, auto_extractor, usable_extractors

__all__ = ["valid_extractors", "valid_metrics", "resolve_extractor", "check_eval_settings", "EXTRA_KWARGS",
           "MODE_THRESHOLDS", "DEFAULT_MODE_THRESHOLD", "check_mode_threshold", "SELECTIONS"]

EXTRA_KWARGS = {"kid_subsets": 100, "isc_splits": 10, "classifier_config": None}

# eval.mode_threshold: when a mode of a 2-D mixture counts as covered (bench.metrics.modes)
MODE_THRESHOLDS = ("ganbench", "pacgan")  # the named values; an integer >= 1 is a count of samples
DEFAULT_MODE_THRESHOLD = "ganbench"

# eval.selection: the split that chooses the best checkpoint and configuration (bench.engine.scoring)
SELECTIONS = ("validation", "test")


def check_mode_threshold(value) -> None:
    """MetricsError naming the valid choices unless ``value`` is a valid ``eval.mode_threshold``."""
    if isinstance(value, str) and value in MODE_THRESHOLDS:
        return
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return
    raise MetricsError(f"eval.mode_threshold: expected 'ganbench' (>= 20 of 2,500 samples, scaled to n), "
                       f"'pacgan' (>= 1 high-quality sample, as in PacGAN's code) or an integer number of "
                       f"samples >= 1; got {value!r}")


def valid_extractors() -> Tuple[str, ...]:
    """Values of ``eval.extractor``: the registered extractors, ``auto`` and ``none``."""
    return tuple(sorted([AUTO, NONE, *EXTRACTORS.names()]))


def valid_metrics() -> Tuple[str, ...]:
    """Values of ``eval.metrics`` (the catalogue's metric groups)."""
    return tuple(groups())


def _quoted(names) -> str:
    names = [repr(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def resolve_extractor(name: str, info) -> str:
    """The extractor that evaluates dataset ``info`` for setting ``name`` (``auto`` resolved);
    MetricsError when it cannot."""
    valid = valid_extractors()
    if name not in valid:
        raise MetricsError(f"eval.extractor: unknown extractor {name!r}; valid: {', '.join(valid)}")
    if name == AUTO:
        return auto_extractor(info)
    if name == NONE:
        return name
    ex = EXTRACTORS.get(name)
    if ex.usable_on(info):
        return name
    usable = [e.name for e in usable_extractors(info)]
    alts = f"use {_quoted(usable)} (or 'auto')" if usable else "no registered extractor can"
    if ex.data_kind != info.kind:
        raise MetricsError(f"eval.extractor {name!r} is for {DATA_KINDS[ex.data_kind]}; dataset {info.name!r} "
                           f"holds {DATA_KINDS.get(info.kind, info.kind)}: {alts}")
    raise MetricsError(f"eval.extractor {name!r} needs class labels to train on, but dataset {info.name!r} "
                       f"is unlabelled; {alts}")


def _spec_dict(spec) -> Dict[str, Any]:
    from ..config import EvalSpec

    if spec is None:
        return dataclasses.asdict(EvalSpec())
    if isinstance(spec, dict):
        base = dataclasses.asdict(EvalSpec())
        unknown = [k for k in spec if k not in base]
        if unknown:
            raise MetricsError(f"eval: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(base))}")
        base.update(spec)
        return base
    return dataclasses.asdict(spec)


def _validate(s: Dict[str, Any], n_split: int) -> Dict[str, Any]:
    """Check the sample counts and metrics of settings ``s`` against a reference split of
    ``n_split`` samples; returns ``{"metrics", "n_fake", "n_real"}``."""
    metrics = list(s["metrics"] or [])
    valid = valid_metrics()
    bad = [m for m in metrics if m not in valid]
    if bad:
        raise MetricsError(f"eval.metrics: unknown metric {bad[0]!r}; valid: {', '.join(valid)}")
    n = s["num_samples"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise MetricsError(f"eval.num_samples: expected an integer >= 2, got {n!r}")
    bs = s["batch_size"]
    if not isinstance(bs, int) or bs < 1:
        raise MetricsError(f"eval.batch_size: expected a positive integer, got {bs!r}")
    nr = s["num_real"]
    if nr is None:
        nr = min(n, n_split)
    elif not isinstance(nr, int) or nr < 2:
        raise MetricsError(f"eval.num_real: expected an integer >= 2 (or null), got {nr!r}")
    elif nr > n_split:
        raise MetricsError(f"eval.num_real = {nr} is larger than the reference split "
                           f"{s['ref_split']!r} ({n_split} samples)")
    if "kid" in metrics:
        k = s["kid_subset_size"]
        if not isinstance(k, int) or k < 2:
            raise MetricsError(f"eval.kid_subset_size: expected an integer >= 2, got {k!r}")
        if k > n or k > nr:
            raise MetricsError(f"eval.kid_subset_size = {k} is larger than eval.num_samples ({n}) or the number "
                               f"of reference samples eval.num_real ({nr}); lower kid_subset_size or drop 'kid'")
    check_mode_threshold(s.get("mode_threshold", DEFAULT_MODE_THRESHOLD))
    if "prc" in metrics and min(n, nr) <= 3:
        raise MetricsError("eval.metrics 'prc' needs more than 3 generated and reference samples "
                           f"(num_samples={n}, num_real={nr})")
    return {"metrics": metrics, "n_fake": n, "n_real": nr}


def check_eval_settings(eval_settings: Dict[str, Any], info) -> None:
    """Refuse evaluation settings (``EvalSpec`` fields as a dict) that cannot work on dataset
    ``info``, before any run starts: the extractor (resolved against the dataset) and the metric
    and sample-count settings (the reference split's size is not known yet). Raises
    MetricsError. ``extractor: none`` evaluates nothing and is not checked further."""
    s = _spec_dict(eval_settings)
    if s["selection"] not in SELECTIONS:
        raise MetricsError(f"eval.selection: expected 'validation' (select on a held-out 10% of the training "
                           f"split, report on eval.ref_split) or 'test' (select and report on eval.ref_split, "
                           f"as Lucic et al. 2018); got {s['selection']!r}")
    if s["extractor"] == NONE:
        return
    resolve_extractor(s["extractor"], info)
    _validate(s, n_split=10 ** 9)
