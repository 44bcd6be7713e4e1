"""The metric catalogue: every score ganbench computes, declared once.

Each :class:`Metric` names its result key (the key in ``Scores.values``, in a record's
``metrics.final`` / ``metrics.best``, and the last part of a ``metric.best.<key>`` column), its
direction, display label and number format, its kind, and the extractor capabilities that can
make it. Evaluation, best-checkpoint selection, best-configuration selection, aggregation and
reports all read direction, label and format from here.

This module is light on purpose (no torch): the report layer imports it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional

from ..errors import MetricsError

__all__ = ["Metric", "METRICS", "metric", "lower_is_better", "find", "keys_for", "CAPABILITIES", "KINDS",
           "register_metric"]

# What an extractor can give a metric (see bench.metrics.extractor_registry.Extractor.capabilities).
CAPABILITIES = {
    "features": "a feature vector per sample (FID, KID, precision/recall)",
    "logits": "class logits per sample (Inception Score)",
    "dataset_classes": "logits over the dataset's own classes (class coverage, per-class recall)",
    "mixture_modes": "the known modes of a 2-D mixture (mode coverage)",
    "training": "the training loop itself (cost)",
}
KINDS = ("quality", "spread", "modes", "classes", "cost")


@dataclass(frozen=True)
class Metric:
    """One score. ``key``: the result key; ``id``: short name used by ``aggregate(runs, "fid")``,
    table anchors and LaTeX labels; ``group``: the ``eval.metrics`` setting that requests it
    (``fid``, ``isc``, ``kid``, ``prc``), None for metrics that come with the extractor;
    ``needs``: the extractor capabilities that can make it; ``table``: whether reports give it a
    table of its own; ``column``: the results-table column, ``{which}`` standing for ``best`` or
    ``final`` (quality metrics) -- cost metrics name a fixed column."""

    key: str
    id: str
    label: str
    lower_is_better: bool
    fmt: str = "{:.2f}"
    kind: str = "quality"
    needs: FrozenSet[str] = frozenset()
    group: Optional[str] = None
    table: bool = True
    column: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.key!r}: kind {self.kind!r} not in {KINDS}")
        unknown = set(self.needs) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"metric {self.key!r}: unknown capabilities {sorted(unknown)}")
        if not self.column:
            object.__setattr__(self, "column", "metric.{which}." + self.key)

    # ---- direction
    @property
    def higher_is_better(self) -> bool:
        return not self.lower_is_better

    def better(self, a: float, b: float) -> bool:
        """Strictly better: ``a`` beats ``b`` in this metric's direction."""
        return a < b if self.lower_is_better else a > b

    @property
    def worst(self) -> float:
        """A value every finite score beats (the start of a running best)."""
        return math.inf if self.lower_is_better else -math.inf

    @property
    def direction(self) -> str:
        return "lower is better" if self.lower_is_better else "higher is better"

    @property
    def arrow(self) -> str:
        return "↓" if self.lower_is_better else "↑"

    # ---- presentation
    def format(self, value) -> str:
        if value is None or not math.isfinite(value):
            return "—"
        return self.fmt.format(value)

    def col(self, which: str = "best") -> str:
        return self.column.format(which=which)


def _m(key, id_, label, lower, fmt, kind, needs, group=None, table=True, column=""):
    return Metric(key, id_, label, lower, fmt, kind, frozenset(needs), group, table, column)


F, L, C, M = ("features",), ("logits",), ("dataset_classes",), ("mixture_modes",)

# Order = report order (tables appear in this order). The spreads (``*_std``) and the counts of
# modes/classes are not qualities and have no table. Their direction is "higher" only because
# best-over-checkpoints keeps, for every key, its best value in this direction, and these keys
# have been kept at their maximum since the first records (changing it would change stored
# ``best.*`` values).
_BUILTIN: List[Metric] = [
    _m("frechet_inception_distance", "fid", "FID", True, "{:.1f}", "quality", F, "fid"),
    _m("inception_score_mean", "is", "IS", False, "{:.2f}", "quality", L, "isc"),
    _m("kernel_inception_distance_mean", "kid", "KID", True, "{:.4f}", "quality", F, "kid"),
    _m("precision", "precision", "Precision", False, "{:.3f}", "quality", F, "prc"),
    _m("recall", "recall", "Recall", False, "{:.3f}", "quality", F, "prc"),
    _m("f_score", "f_score", "F-score", False, "{:.3f}", "quality", F, "prc"),
    # Naeem et al. 2020 (same features and k as precision/recall); requested with 'prc'
    _m("density", "density", "Density", False, "{:.3f}", "quality", F, "prc"),
    _m("coverage", "coverage", "Coverage", False, "{:.3f}", "quality", F, "prc"),
    _m("modes_covered", "modes_covered", "Modes covered", False, "{:.1f}", "modes", M),
    _m("high_quality_fraction", "high_quality_fraction", "High-quality samples", False, "{:.3f}", "modes", M),
    _m("mode_kl", "mode_kl", "Mode KL", True, "{:.3f}", "modes", M),
    _m("mode_entropy", "mode_entropy", "Mode entropy (nats)", False, "{:.3f}", "modes", M, table=False),
    _m("classes_covered", "classes_covered", "Classes covered", False, "{:.1f}", "classes", C),
    _m("class_kl", "class_kl", "Class KL", True, "{:.3f}", "classes", C),
    # recall within each class (the worst class and the mean): collapse inside classes, e.g. the
    # normal vs mixture latent prior of suites/latent-prior.yaml
    _m("per_class_recall_min", "per_class_recall_min", "Per-class recall (min)", False, "{:.3f}", "classes", C),
    _m("per_class_recall_mean", "per_class_recall_mean", "Per-class recall (mean)", False, "{:.3f}", "classes", C),
    # no table of their own
    _m("inception_score_std", "is_std", "IS std", False, "{:.2f}", "spread", L, "isc", table=False),
    _m("kernel_inception_distance_std", "kid_std", "KID std", False, "{:.4f}", "spread", F, "kid", table=False),
    _m("num_modes", "num_modes", "Modes", False, "{:.0f}", "modes", M, table=False),
    _m("num_classes", "num_classes", "Classes", False, "{:.0f}", "classes", C, table=False),
    # cost, from the run record (not from evaluation)
    _m("steps_per_s", "steps_per_s", "Steps/s", False, "{:.1f}", "cost", ("training",), column="cost.steps_per_s"),
    _m("wall_s", "wall_s", "Wall time per run (s)", True, "{:.0f}", "cost", ("training",), column="cost.wall_s"),
]

METRICS: Dict[str, Metric] = {}


def register_metric(m: Metric) -> Metric:
    """Add a metric to the catalogue (plugins); a key or id declared twice is an error."""
    if m.key in METRICS:
        raise MetricsError(f"metric {m.key!r} is already declared")
    clash = [k for k, o in METRICS.items() if o.id == m.id]
    if clash:
        raise MetricsError(f"metric id {m.id!r} of {m.key!r} is already the id of {clash[0]!r}")
    METRICS[m.key] = m
    return m


for _metric in _BUILTIN:
    register_metric(_metric)
del _metric


def metric(key: str) -> Metric:
    """The catalogue entry of a result key; MetricsError naming the valid keys otherwise."""
    try:
        return METRICS[key]
    except (KeyError, TypeError):
        raise MetricsError(f"unknown metric {key!r}; valid metric keys: {', '.join(METRICS)}") from None


def lower_is_better(key: str) -> bool:
    return metric(key).lower_is_better


def find(name) -> Metric:
    """Look a metric up by result key, id (``fid``), column template or label."""
    if isinstance(name, Metric):
        return name
    if name in METRICS:
        return METRICS[name]
    for m in METRICS.values():
        if name in (m.id, m.column, m.label):
            return m
    raise MetricsError(f"unknown metric {name!r}; known: {', '.join(m.id for m in METRICS.values())}")


def keys_for(group: str) -> List[str]:
    """Result keys an ``eval.metrics`` entry (``fid``, ``isc``, ``kid``, ``prc``) produces."""
    return [m.key for m in METRICS.values() if m.group == group]


def groups() -> List[str]:
    """The ``eval.metrics`` names, in catalogue order."""
    return list(dict.fromkeys(m.group for m in METRICS.values() if m.group))


def of_kind(kinds: Iterable[str]) -> List[Metric]:
    kinds = set(kinds)
    return [m for m in METRICS.values() if m.kind in kinds]
