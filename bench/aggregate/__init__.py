"""Turn the results table (``runs.parquet``) into report cells: a plain function of the runs
table (nothing reads Ray state, checkpoints or curves).

- :mod:`.statistics`: bootstrap CI of the mean, bootstrap rank intervals (the report's one rule of
  significance), pairwise win probabilities;
- :mod:`.selection`: the metric's column and the rows of a cell (final phase / grid / best
  search configuration), directions from the metric catalogue (:mod:`bench.metrics.catalogue`);
- :mod:`.tables`: :class:`Table` and :func:`aggregate`, :func:`cost_table`, :func:`budget_curves` (expected
  best score by configurations tried and by compute, ``BUDGET_AXES``);
- :mod:`.reference`: our cells beside a published table (:func:`compare_reference`);
- :mod:`.labels`: display labels and order, from the registries.

Captions are the report layer's (:mod:`bench.report.captions`).
"""
from __future__ import annotations

from .labels import dataset_label, dataset_rank, extractor_label, loss_label, order_losses
from .reference import Comparison, compare_reference
from .selection import SEARCH_PHASES, available_metrics, get_metric, metric_column, select_rows
from .statistics import MIN_SEEDS, bootstrap_ci, mann_whitney_p, min_mann_whitney_p, rank_intervals, win_probability
from .tables import BUDGET_AXES, Table, aggregate, budget_curves, cost_table, ranking, representative_runs, win_matrix

__all__ = [
    "SEARCH_PHASES", "get_metric", "available_metrics", "metric_column", "loss_label", "order_losses",
    "dataset_label", "dataset_rank", "extractor_label", "select_rows", "aggregate", "Table", "cost_table",
    "budget_curves", "BUDGET_AXES", "compare_reference", "Comparison", "representative_runs", "bootstrap_ci", "mann_whitney_p",
    "min_mann_whitney_p", "MIN_SEEDS", "rank_intervals", "win_probability", "ranking", "win_matrix",
]
