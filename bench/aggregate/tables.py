"""Tables of one metric from the results table (``runs.parquet``): cells, cost per cell, and
budget curves.

A *cell* is one (dataset, loss[, other axes]) combination; it carries the mean and sample
standard deviation of a metric over seeds, the counts of runs that were left out and why, a
seeded bootstrap confidence interval of the mean, its bootstrap rank interval in its column and
whether the objective can be told apart from the best one (the one rule of
:mod:`.statistics`: its rank interval does not reach rank 1; no mark with fewer than
``MIN_SEEDS`` seeds per objective). :func:`win_matrix` gives the pairwise win probabilities.

Diverged and failed runs have no score: they are left out of mean/std and counted.
Collapsed runs are kept unless ``exclude_collapsed=True``.  Whatever is left out is
written into the cell note ("1/5 excluded: diverged") -- never silently dropped.
Captions are written by the report layer (:mod:`bench.report.captions`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..metrics.catalogue import Metric
from .labels import dataset_label, dataset_ranker, order_losses
from .selection import SEARCH_PHASES, _phase, _truthy, _values, get_metric, is_cost, resolve_which, select_rows
from .statistics import MIN_SEEDS, bootstrap_ci, rank_intervals, stable_seed, win_probability

__all__ = ["Table", "aggregate", "win_matrix", "ranking", "representative_runs", "cost_table", "budget_curves", "PACGAN_COLUMN",
           "with_pacgan"]

PACGAN_COLUMN = "param.stabilise.pacgan"  # PacGAN's packing m; absent (dropped at its default) = 1


def with_pacgan(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with a ``pacgan`` column: the packing degree m of each run (1 where the
    parameter is missing: a run id leaves it out at its default)."""
    if "pacgan" in runs.columns:
        return runs
    m = pd.to_numeric(runs[PACGAN_COLUMN], errors="coerce") if PACGAN_COLUMN in runs.columns else None
    m = m.fillna(1).astype(int) if m is not None else pd.Series(1, index=runs.index, dtype=int)
    return runs.assign(pacgan=m)


@dataclass
class Table:
    """Cells of one metric.  ``cells`` has one row per (axes) combination with columns
    ``mean, std, n, n_total, n_failed, n_diverged, n_missing, n_collapsed,
    n_collapsed_excluded, ci_low, ci_high, p_vs_best, best, tied_with_best, note, rule,
    values, run_ids, column`` plus the axis columns."""

    metric: Metric
    cells: pd.DataFrame
    axes: list[str]
    which: str
    extractors: list[str]
    exclude_collapsed: bool
    alpha: float
    confidence: float
    notes: list[str] = field(default_factory=list)
    # the report's "real data" row: column -> (score of real training images or None, note)
    floor: dict = field(default_factory=dict)
    # eval.selection of the scored runs: 'validation' and/or 'test' (empty: records before it existed)
    selections: list[str] = field(default_factory=list)

    @property
    def column_axes(self) -> list[str]:
        return [a for a in self.axes if a != "loss"]

    def rules(self) -> list[str]:
        return sorted(set(self.cells["rule"]))

    def cell_text(self, row) -> str:
        if row["n"] == 0:
            return "—"
        if row["n"] == 1 or not np.isfinite(row["std"]):
            return self.metric.format(row["mean"])
        return f"{self.metric.format(row['mean'])} ± {self.metric.format(row['std'])}"

    def wide(self, field_: str = "text") -> pd.DataFrame:
        """Objectives as rows, columns = the non-loss axes (``column`` label)."""
        c = self.cells.copy()
        c["text"] = [self.cell_text(r) for _, r in c.iterrows()]
        return c.pivot(index="loss", columns="column", values=field_).reindex(
            index=self.loss_order(), columns=self.column_order()
        )

    def loss_order(self) -> list[str]:
        return order_losses(self.cells["loss"])

    def column_order(self) -> list[str]:
        return list(dict.fromkeys(self.cells.sort_values("_col_order")["column"]))


def _axes(runs: pd.DataFrame, axes: Sequence[str] | None) -> list[str]:
    if axes is None:
        axes = ["dataset", "loss"]
        # "model" is an axis only when one (dataset, loss) was run with several models
        if "model" in runs.columns and len(runs) and runs.groupby(["dataset", "loss"])["model"].nunique().max() > 1:
            axes.append("model")
        # "pacgan" (PacGAN's packing m) is an axis only when runs of one (dataset, loss) differ in it
        if PACGAN_COLUMN in runs.columns and len(runs):
            if with_pacgan(runs).groupby(["dataset", "loss"])["pacgan"].nunique().max() > 1:
                axes.append("pacgan")
    axes = list(axes)
    if "loss" not in axes:
        raise ValueError("axes must contain 'loss' (objectives are the table rows)")
    return axes


def _column_label(key: tuple, col_axes: list[str]) -> str:
    parts = []
    for a, v in zip(col_axes, key):
        parts.append(dataset_label(v) if a == "dataset" else (f"m={v}" if a == "pacgan" else str(v)))
    return " / ".join(parts) if parts else "all"


def aggregate(
    runs: pd.DataFrame,
    metric: str | Metric = "fid",
    *,
    which: str = "auto",
    axes: Sequence[str] | None = None,
    exclude_collapsed: bool = False,
    n_boot: int = 2000,
    confidence: float = 0.95,
    alpha: float = 0.05,
    seed: int = 0,
) -> Table:
    """Aggregate ``runs`` (the ``runs.parquet`` table) into cells of one metric."""
    m = get_metric(metric)
    which = resolve_which(runs, m, which)
    col = m.col(which)
    axes = _axes(runs, axes)
    if "pacgan" in axes:
        runs = with_pacgan(runs)
    col_axes = [a for a in axes if a != "loss"]
    rank = dataset_ranker()
    records = []
    for key, group in runs.groupby(axes, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        kd = dict(zip(axes, key))
        rows, rule = select_rows(group, col, m.higher_is_better)
        v = _values(rows, col)
        status = rows["status"].astype(object) if "status" in rows else pd.Series("done", index=rows.index)
        failed = status.eq("failed")
        diverged = status.eq("diverged")
        missing = ~failed & ~diverged & ~np.isfinite(v)
        collapsed = _truthy(rows, "collapsed") & ~failed & ~diverged & ~missing
        keep = ~failed & ~diverged & ~missing
        if exclude_collapsed:
            keep &= ~collapsed
        x = v[keep].to_numpy(float)
        n_total = len(rows)
        counts = [
            (int(diverged.sum()), "diverged"),
            (int(failed.sum()), "failed"),
            (int(missing.sum()), "no score"),
        ]
        if exclude_collapsed:
            counts.append((int(collapsed.sum()), "collapsed"))
        counts = [(c, w) for c, w in counts if c]
        n_out = sum(c for c, _ in counts)
        note = ""
        if n_out:
            if len(counts) == 1:
                note = f"{n_out}/{n_total} excluded: {counts[0][1]}"
            else:
                note = f"{n_out}/{n_total} excluded: " + ", ".join(f"{c} {w}" for c, w in counts)
        if not exclude_collapsed and collapsed.any():
            kept = f"{int(collapsed.sum())} collapsed kept"
            note = f"{note}; {kept}" if note else kept
        ci = bootstrap_ci(x, n_boot, confidence, stable_seed(seed, key))
        records.append(
            {
                **kd,
                "column": _column_label(tuple(kd[a] for a in col_axes), col_axes),
                "_col_order": tuple(rank(kd[a]) if a == "dataset" else (0, str(kd[a])) for a in col_axes),
                "mean": float(x.mean()) if len(x) else math.nan,
                "std": float(x.std(ddof=1)) if len(x) > 1 else math.nan,
                "n": int(len(x)),
                "n_total": n_total,
                "n_failed": int(failed.sum()),
                "n_diverged": int(diverged.sum()),
                "n_missing": int(missing.sum()),
                "n_collapsed": int(collapsed.sum()),
                "n_collapsed_excluded": int(collapsed.sum()) if exclude_collapsed else 0,
                "ci_low": ci[0],
                "ci_high": ci[1],
                "note": note,
                "rule": rule,
                "values": x.tolist(),
                "run_ids": rows.loc[keep, "run_id"].tolist() if "run_id" in rows else [],
                "all_run_ids": rows["run_id"].tolist() if "run_id" in rows else [],
                "_measured": bool(np.isfinite(_values(group, col)).any()),
            }
        )
    cells = pd.DataFrame.from_records(records)
    if cells.empty:
        cells = pd.DataFrame(columns=[*axes, "column", "_col_order", "mean", "std", "n", "note", "rule", "values"])
    if len(cells) and "_measured" in cells:
        # a column where the metric was never computed (e.g. FID on 2-D data) is not shown
        measured_cols = set(cells.loc[cells["_measured"], "column"])
        cells = cells[cells["column"].isin(measured_cols)].drop(columns="_measured").reset_index(drop=True)
    cells["best"] = False
    cells["tied_with_best"] = False
    cells["testable"] = True  # False: too few seeds in the column for any conclusion
    for c in ("rank", "rank_lo", "rank_hi", "p_first"):
        cells[c] = math.nan
    for colname, idx in cells.groupby("column", sort=False).groups.items():
        sub = cells.loc[idx]
        sub = sub[sub["n"] > 0]
        if sub.empty:
            continue
        b = sub["mean"].idxmax() if m.higher_is_better else sub["mean"].idxmin()
        cells.loc[b, "best"] = True
        cells.loc[b, "tied_with_best"] = True
        ri = rank_intervals([cells.at[i, "values"] for i in sub.index], m.higher_is_better, n_boot, confidence,
                            stable_seed(seed, ("rank", colname)))
        for j, i in enumerate(sub.index):
            for c in ("rank", "rank_lo", "rank_hi", "p_first"):
                cells.at[i, c] = ri[c][j]
        enough = bool((sub["n"] >= MIN_SEEDS).all())
        for i in sub.index:
            if i == b:
                continue
            if not enough:
                cells.at[i, "testable"] = False  # no conclusion: mark nothing
            else:
                cells.at[i, "tied_with_best"] = bool(cells.at[i, "rank_lo"] == 1)
    extractors, selections = [], []
    if not is_cost(m):
        scored = runs[np.isfinite(_values(runs, col))]
        if "eval.extractor" in runs.columns:
            extractors = sorted(set(scored["eval.extractor"].dropna().astype(str)))
        if "param.eval.selection" in runs.columns:
            selections = sorted(set(scored["param.eval.selection"].dropna().astype(str)))
    return Table(m, cells, axes, which, extractors, exclude_collapsed, alpha, confidence, selections=selections)


def _column_cells(table: Table, column: str) -> pd.DataFrame:
    c = table.cells[(table.cells["column"] == column) & (table.cells["n"] > 0)]
    order = {loss: i for i, loss in enumerate(table.loss_order())}
    return c.assign(_o=c["loss"].map(order)).sort_values("_o")


def ranking(table: Table, column: str) -> pd.DataFrame:
    """The objectives of one column, best first: ``loss, mean, std, n, rank, rank_lo, rank_hi,
    p_first, best, tied_with_best, testable``."""
    c = _column_cells(table, column).sort_values(["rank", "_o"])
    return c[["loss", "mean", "std", "n", "rank", "rank_lo", "rank_hi", "p_first", "best", "tied_with_best",
              "testable"]].reset_index(drop=True)


def win_matrix(table: Table, column: str) -> pd.DataFrame:
    """Pairwise win probabilities of one column: entry (a, b) = P(a seed of a scores better
    than a seed of b), exact over seed pairs, ties ½ (:func:`.statistics.win_probability`);
    rows and columns in ranking order, NaN on the diagonal."""
    c = _column_cells(table, column).sort_values(["rank", "_o"])
    losses = list(c["loss"])
    vals = dict(zip(losses, c["values"]))
    out = pd.DataFrame(math.nan, index=losses, columns=losses)
    for a in losses:
        for b in losses:
            if a != b:
                out.at[a, b] = win_probability(vals[a], vals[b], table.metric.higher_is_better)
    return out


def representative_runs(table: Table) -> dict[tuple, str]:
    """Per cell, the run whose score is closest to the cell median (ties: first)."""
    out = {}
    for _, r in table.cells.iterrows():
        if not r["n"]:
            continue
        x = np.asarray(r["values"], float)
        med = np.median(x)
        out[tuple(r[a] for a in table.axes)] = r["run_ids"][int(np.argmin(np.abs(x - med)))]
    return out


# --------------------------------------------------------------------------------------
# cost
# --------------------------------------------------------------------------------------
def cost_table(runs: pd.DataFrame, axes: Sequence[str] | None = None) -> pd.DataFrame:
    """Cost per cell over ALL runs of the cell (search phases included): steps/s and
    wall time per run (mean ± sample std over runs that report them), number of runs,
    device-hours (sum of wall time / 3600) and the devices used."""
    axes = _axes(runs, axes)
    if "pacgan" in axes:
        runs = with_pacgan(runs)
    rank = dataset_ranker()
    recs = []
    groups = sorted(runs.groupby(axes, sort=False, dropna=False),
                    key=lambda kv: tuple(rank(v) if a == "dataset" else (0, str(v)) for a, v in zip(axes, kv[0])))
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        sps = _values(g, "cost.steps_per_s").dropna()
        wall = _values(g, "cost.wall_s").dropna()
        recs.append(
            {
                **dict(zip(axes, key)),
                "runs": len(g),
                "steps_per_s_mean": float(sps.mean()) if len(sps) else math.nan,
                "steps_per_s_std": float(sps.std(ddof=1)) if len(sps) > 1 else math.nan,
                "wall_s_mean": float(wall.mean()) if len(wall) else math.nan,
                "wall_s_std": float(wall.std(ddof=1)) if len(wall) > 1 else math.nan,
                "device_hours": float(wall.sum()) / 3600.0,
                "device": ", ".join(sorted(set(g["cost.device"].dropna().astype(str)))) if "cost.device" in g else "",
            }
        )
    return pd.DataFrame.from_records(recs)


# --------------------------------------------------------------------------------------
# budget curves (Lucic et al. 2018, Fig. 4/5)
# --------------------------------------------------------------------------------------
def budget_curves(
    runs: pd.DataFrame,
    metric: str | Metric = "fid",
    *,
    which: str = "auto",
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Expected best score as a function of the number of configurations tried.

    For each (dataset, loss, phase) with search rows, every configuration gets one score
    (the mean over its scored runs; a configuration without a score -- failed or
    diverged -- stays in the pool and can never be the best).  ``n_boot`` seeded draws of
    K configurations with replacement are taken; the running best over the first k of a
    draw is a bootstrap draw of "best of k".  Returns ``dataset, loss, phase, k, K,
    mean, lo, hi, p_none`` (``p_none``: share of draws where no configuration scored,
    left out of mean/band).
    """
    m = get_metric(metric)
    col = m.col(resolve_which(runs, m, which))
    phase = _phase(runs)
    search = runs[phase.isin(SEARCH_PHASES)].assign(_phase=phase[phase.isin(SEARCH_PHASES)])
    out = []
    if search.empty:
        return pd.DataFrame(columns=["dataset", "loss", "phase", "k", "K", "mean", "lo", "hi", "p_none"])
    a = (1.0 - confidence) / 2.0
    for (ds, loss, ph), g in search.groupby(["dataset", "loss", "_phase"], sort=True):
        v = _values(g, col).where(g["status"].eq("done"))
        cfg = g["search.config_id"] if "search.config_id" in g else g["run_id"]
        scores = v.groupby(cfg).mean().to_numpy(float)  # NaN when no scored run
        K = len(scores)
        s = -scores if m.higher_is_better else scores.copy()
        s[~np.isfinite(s)] = np.inf
        rng = np.random.default_rng(stable_seed(seed, (ds, loss, ph)))
        draws = s[rng.integers(0, K, size=(n_boot, K))]
        running = np.minimum.accumulate(draws, axis=1)
        for k in range(1, K + 1):
            b = running[:, k - 1]
            fin = b[np.isfinite(b)]
            if m.higher_is_better:
                fin = -fin
            if len(fin):
                lo, hi = np.quantile(fin, [a, 1 - a])
                mean = fin.mean()
            else:
                lo = hi = mean = math.nan
            out.append(
                dict(dataset=ds, loss=loss, phase=ph, k=k, K=K, mean=float(mean), lo=float(lo), hi=float(hi),
                     p_none=float(1 - len(fin) / n_boot))
            )
    return pd.DataFrame.from_records(out)
