"""Evaluation of generators: FID / IS / KID / precision-recall through torch-fidelity, plus
mode-collapse metrics. The package face; the parts:

- :mod:`.catalogue`: every metric declared once (result key, direction, label, format, kind,
  the extractor capabilities that can make it) -- ``METRICS``, ``metric(key)``;
- :mod:`.extractor_registry` / :mod:`.builtin_extractors`: feature extractors as registry
  entries (``EXTRACTORS``) that declare what they can do; ``auto`` picks among them;
- :mod:`.settings`: ``eval.*`` settings and their checks (``check_eval_settings``);
- :mod:`.evaluation`: ``evaluate()`` and one evaluator per kind of data;
- :mod:`.primitives` (FID/KID/IS/PRC wrappers), :mod:`.fidelity` (the torch-fidelity call),
  :mod:`.modes` (mode and class coverage), :mod:`.classifier`, :mod:`.extractors` (the
  torch-fidelity extractor classes), :mod:`.cache`.

Entry point::

    scores = evaluate(sample_fn, "mnist-5k", EvalSpec(...), device="cpu")
    scores.values["frechet_inception_distance"], scores.provenance, scores.collapsed

``sample_fn(n)`` returns n generated samples in model space (images: float N×C×H×W in [-1, 1];
2-D data: float N×2) and must be deterministic (fixed latents). ``eval.extractor`` is a
registered extractor, ``auto`` (the usable one with the highest priority: ``classifier`` for
labelled image datasets, ``inception-offline`` for unlabelled ones, ``modes`` for 2-D data) or
``none`` (no evaluation).

Reference features of the real set are cached per (dataset, split, extractor and its weights,
n_real) under ``<cache>/fidelity`` (torch-fidelity's ``input2_cache_name`` + ``cache_root``), so
later evaluations against the same reference extract features of the generated samples only.
``<cache>`` is the ``cache_dir`` argument, else ``$GANBENCH_CACHE``, else ``~/.cache/ganbench``.

Importing this package is light (no torch): the light parts load at once, the others on first
use of one of their names.
"""
from __future__ import annotations

import importlib

from ..errors import ClassifierUnavailable, MetricsError, MissingOptionalDependency, NonFiniteSamples  # noqa: F401
from .catalogue import METRICS, Metric, lower_is_better, metric, register_metric  # noqa: F401
from .extractor_registry import (EXTRACTORS, Extractor, ExtractorContext, ExtractorProvenance,  # noqa: F401
                                 auto_extractor, extractor_label, register_extractor, usable_extractors)
from . import builtin_extractors  # noqa: F401,E402  (registers ganbench's own extractors)
from .scores import Scores  # noqa: F401
from .settings import _validate, check_eval_settings, resolve_extractor, valid_extractors, valid_metrics  # noqa: F401

# name -> submodule, imported on first use (these pull in torch / torch-fidelity)
_LAZY = {
    "evaluate": "evaluation", "REF_SUBSET_SEED": "evaluation", "CACHE_FORMAT": "evaluation",
    "_reference_indices": "evaluation",
    "fid_from_statistics": "primitives", "fid_from_features": "primitives",
    "inception_score_from_logits": "primitives", "kid_from_features": "primitives", "prc_from_features": "primitives",
    "fidelity_metrics": "fidelity", "U8Images": "fidelity",
    "mixture_mode_metrics": "modes", "class_metrics": "modes", "kl_to_uniform": "modes",
    "coverage_threshold": "modes", "per_class_precision_recall": "modes", "precision_recall": "modes",
    "get_classifier": "classifier", "load_classifier": "classifier", "ClassifierConfig": "classifier",
    "IMAGES_SEEN": "extractors", "offline_weights_path": "extractors",
}

__all__ = [
    "evaluate", "Scores", "MetricsError", "NonFiniteSamples", "VALID_EXTRACTORS", "VALID_METRICS",
    "METRICS", "Metric", "metric", "lower_is_better", "EXTRACTORS", "Extractor", "register_extractor",
    "resolve_extractor", "check_eval_settings", "fidelity_metrics", "fid_from_features", "fid_from_statistics",
    "inception_score_from_logits", "kid_from_features", "prc_from_features", "mixture_mode_metrics",
    "class_metrics", "kl_to_uniform", "coverage_threshold", "per_class_precision_recall", "get_classifier",
    "ClassifierConfig", "IMAGES_SEEN",
]


def __getattr__(name: str):
    if name == "VALID_EXTRACTORS":  # derived from the registry (plugins included) at each use
        return valid_extractors()
    if name == "VALID_METRICS":
        return valid_metrics()
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | {"VALID_EXTRACTORS", "VALID_METRICS"})
