"""Which rows and which column a table aggregates: the metric's results column (best over
checkpoints or final checkpoint), and the rows of one cell (final phase, grid, or the best
search configuration).

Selection rules (which rows of a cell are aggregated):

* ``search.phase == "final"`` present: the best configuration retrained over seeds
  (Lucic et al. 2018) -- only the final rows are used.
* ``search.phase == "grid"``: all seeds of the (dataset, loss) configuration.
* only search rows (``wide`` / ``narrow``): the configuration (``search.config_id``)
  with the best mean metric over the search rows is used, and the rule says so
  (this is optimistic: the same runs chose and score the configuration).

The direction of "best" is the metric's, from the catalogue (:mod:`bench.metrics.catalogue`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics.catalogue import METRICS, Metric, find

__all__ = ["SEARCH_PHASES", "get_metric", "metric_column", "available_metrics", "select_rows", "is_cost"]

SEARCH_PHASES = ("wide", "narrow")


def is_cost(m: Metric) -> bool:
    """Cost metrics come from the run record (one fixed column), the others from evaluation."""
    return m.kind == "cost"


def get_metric(name) -> Metric:
    """Look a metric up by id (``fid``), result key, column template or label (MetricsError
    naming the known ids otherwise)."""
    return find(name)


def _truthy(runs: pd.DataFrame, col: str) -> pd.Series:
    if col not in runs.columns:
        return pd.Series(False, index=runs.index)
    return runs[col].map(lambda v: v is True or (isinstance(v, (bool, np.bool_)) and bool(v)))


def _values(rows: pd.DataFrame, col: str) -> pd.Series:
    if col not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype=float)
    return pd.to_numeric(rows[col], errors="coerce").astype(float)


def _phase(runs: pd.DataFrame) -> pd.Series:
    if "search.phase" not in runs.columns:
        return pd.Series("grid", index=runs.index)
    return runs["search.phase"].astype(object).where(runs["search.phase"].notna(), "grid")


def resolve_which(runs: pd.DataFrame, metric: Metric, which: str) -> str:
    """``auto``: use the rule recorded in ``eval.selection`` (best-over-checkpoints ->
    ``best``), falling back to whichever column exists."""
    if is_cost(metric):
        return "final"
    if which == "auto":
        sel = runs["eval.selection"].dropna() if "eval.selection" in runs else pd.Series([], dtype=object)
        which = "final" if len(sel) and (sel == "final").all() else "best"
        if metric.col(which) not in runs.columns:
            other = "final" if which == "best" else "best"
            if metric.col(other) in runs.columns:
                which = other
    if which not in ("best", "final"):
        raise ValueError(f"which must be 'auto', 'best' or 'final', not {which!r}")
    return which


def metric_column(runs: pd.DataFrame, metric, which: str = "auto") -> str:
    m = get_metric(metric)
    return m.col(resolve_which(runs, m, which))


def available_metrics(runs: pd.DataFrame, which: str = "auto", kind: str = "quality") -> list[Metric]:
    """Metrics that get a table and have at least one finite value in the table, catalogue
    order. ``kind``: ``quality`` (every evaluation metric) or ``cost``."""
    out = []
    for m in METRICS.values():
        if not m.table or is_cost(m) != (kind == "cost"):
            continue
        col = metric_column(runs, m, which)
        if col in runs.columns and np.isfinite(pd.to_numeric(runs[col], errors="coerce").astype(float)).any():
            out.append(m)
    return out


def select_rows(group: pd.DataFrame, col: str, higher_is_better: bool) -> tuple[pd.DataFrame, str]:
    """Pick the rows of one cell that are aggregated, and describe the rule used."""
    phase = _phase(group)
    if (phase == "final").any():
        rows = group[phase == "final"]
        return rows, "final phase: best configuration retrained over seeds"
    if (phase == "grid").any():
        rows = group[phase == "grid"]
        n_cfg = rows["search.config_id"].nunique() if "search.config_id" in rows else 1
        rule = "grid: all seeds of the configuration"
        if n_cfg > 1:
            rule = f"grid: all seeds, {n_cfg} configurations pooled"
        return rows, rule
    search = group[phase.isin(SEARCH_PHASES)]
    if "search.rung" in search.columns:  # successive halving: only the last rung trained the full budget
        rung = pd.to_numeric(search["search.rung"], errors="coerce")
        last = pd.to_numeric(search["search.rungs"], errors="coerce") - 1
        search = search[rung.isna() | (rung == last)]
    if search.empty:
        return group, "all rows (no recognised phase)"
    v = _values(search, col)
    ok = search["status"].eq("done") & np.isfinite(v)
    cfg = search["search.config_id"] if "search.config_id" in search else pd.Series(search.index.astype(str), index=search.index)
    n_cfg = cfg.nunique()
    if not ok.any():
        return search, f"no final phase and no scored search run among {n_cfg} configurations"
    per_cfg = v[ok].groupby(cfg[ok]).mean()
    # ties: smallest config_id wins (deterministic)
    per_cfg = per_cfg.sort_index(kind="stable")
    best_cfg = per_cfg.idxmax() if higher_is_better else per_cfg.idxmin()
    rows = search[cfg == best_cfg]
    phases = "/".join(sorted(set(phase[search.index])))
    rule = (
        f"no final phase: best of {n_cfg} {phases}-search configurations by the metric itself "
        f"(config {best_cfg}; optimistic, same runs select and score)"
    )
    return rows, rule
