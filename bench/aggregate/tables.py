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

__all__ = ["Table", "aggregate", "win_matrix", "ranking", "representative_runs", "cost_table", "budget_curves", "BUDGET_AXES", "PACGAN_COLUMN",
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
        axes += setting_axes(runs)
    axes = list(axes)
    if "loss" not in axes:
        raise ValueError("axes must contain 'loss' (objectives are the table rows)")
    return axes


# settings that differ between the runs of one cell by design, never an axis of the table
_NOT_AXES = {"param.seed", "param.threads", "param.device", "param.data_root", "param.semantics_version",
             PACGAN_COLUMN, "param.model", "param.resolved.model"}


def setting_axes(runs: pd.DataFrame) -> list[str]:
    """Run settings (``param.*`` columns) that differ between the grid or final runs of one (dataset,
    loss): a suite's further grid axes (``z_dist: [normal, mixture]``, ``model_params.d_norm``, an
    optimiser setting, ...). Each becomes a column axis of the table, so runs made with different
    settings are never pooled into one mean. Search runs (whose settings vary by design) are not
    looked at; debug settings are not axes."""
    if not len(runs) or "dataset" not in runs.columns:
        return []
    rows = runs[~_phase(runs).isin(SEARCH_PHASES)]
    out = []
    for c in sorted(runs.columns):
        if not c.startswith("param.") or c in _NOT_AXES or c.startswith("param.debug."):
            continue
        v = _hashable(rows[c])
        if len(rows) and v.groupby([rows["dataset"], rows["loss"]]).nunique(dropna=False).max() > 1:
            out.append(c)
    return out


def _hashable(values: pd.Series) -> pd.Series:
    """Container-valued settings (``optim.betas`` lists, mappings) as their text, so they can be
    counted and grouped on; other values unchanged."""
    def text(x):
        if isinstance(x, (list, tuple, np.ndarray)):
            return str(list(x))
        return str(x) if isinstance(x, dict) else x
    return values.map(text)


def _hashable_axes(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """The table's setting axes with container values as their text (:func:`_hashable`)."""
    settings = [a for a in axes if a.startswith("param.") and a in runs.columns]
    return runs.assign(**{a: _hashable(runs[a]) for a in settings}) if settings else runs


def _column_label(key: tuple, col_axes: list[str]) -> str:
    parts = []
    for a, v in zip(col_axes, key):
        parts.append(dataset_label(v) if a == "dataset" else (f"m={v}" if a == "pacgan" else
                     (f"{a[len('param.'):]}={v}" if a.startswith("param.") else str(v))))
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
    runs = _hashable_axes(runs, axes)
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
    runs = _hashable_axes(runs, axes)
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
BUDGET_AXES = ("configurations", "d_steps", "wall_s")  # the x-axes of a budget curve
SCORED_STATES = ("done", "stopped")  # stopped: not promoted by successive halving, its scores kept
_COMPUTE_KNOWN = ("done", "stopped", "diverged")  # these runs always record their D steps


def _config_keys(g: pd.DataFrame) -> pd.Series:
    """One key per configuration of a search phase: its sample index (the same at every rung of
    successive halving, where the config_id changes with the rung's D steps), else its
    config_id, else the run id."""
    key = (g["run_id"] if "run_id" in g else pd.Series(g.index, index=g.index)).astype(str).radd("run ")
    if "search.config_id" in g:
        cid = g["search.config_id"]
        key = cid.astype(str).radd("config ").where(cid.notna(), key)
    if "search.sample" in g:
        smp = pd.to_numeric(g["search.sample"], errors="coerce").astype(float)
        key = smp.map(lambda v: f"sample {int(v):09d}" if np.isfinite(v) else "").where(smp.notna(), key)
    return key


def _selection_values(runs: pd.DataFrame, m: Metric) -> pd.Series:
    """The score that chose a run's checkpoint, as the runner chooses configurations with it
    (:func:`bench.results.selection_score`): ``metric.select.<key>`` for runs that record
    selection scores (validation split under ``eval.selection: validation``), ``metric.best.<key>``
    for runs that do not (test selection, or records made before selection scores existed)."""
    sel_cols = [c for c in runs.columns if c.startswith("metric.select.")]
    best = _values(runs, m.col("best"))
    if not sel_cols:
        return best
    has_select = runs[sel_cols].notna().any(axis=1)
    return _values(runs, f"metric.select.{m.key}").where(has_select, best)


def _compute(g: pd.DataFrame, col: str) -> pd.Series:
    """Per run: ``col`` (``counts.d_steps`` / ``cost.wall_s``). A missing D-step count is unknown
    (NaN: the cell's compute axis is then left out) for a run that trained, 0 for one that failed
    before recording any; missing wall time counts 0 (wall time is recorded, never enforced)."""
    v = _values(g, col)
    if col == "cost.wall_s":
        return v.fillna(0.0)
    status = g["status"].astype(object) if "status" in g else pd.Series("done", index=g.index)
    return v.where(v.notna() | status.isin(_COMPUTE_KNOWN), 0.0)


def _configurations(g: pd.DataFrame, sel: pd.Series, rep: pd.Series) -> pd.DataFrame:
    """The pool of one search phase of one cell, one row per configuration in sample order:
    ``select`` and ``reported`` (means over its scored runs at the last rung it reached: a
    configuration successive halving stopped counts at its rung), ``d_steps`` and ``wall_s``
    (summed over all its runs, every rung and status)."""
    key = _config_keys(g)
    rung = pd.to_numeric(g["search.rung"], errors="coerce") if "search.rung" in g else pd.Series(np.nan, index=g.index)
    rung = rung.fillna(-1)
    last = rung.groupby(key).transform("max")
    status = g["status"].astype(object) if "status" in g else pd.Series("done", index=g.index)
    scored = (rung == last) & status.isin(SCORED_STATES) & np.isfinite(sel)
    frame = pd.DataFrame({"key": key, "select": sel.where(scored), "reported": rep.where(scored),
                          "d_steps": _compute(g, "counts.d_steps"), "wall_s": _compute(g, "cost.wall_s")})
    return frame.groupby("key", sort=True).agg(
        select=("select", "mean"), reported=("reported", "mean"), wall_s=("wall_s", "sum"),
        d_steps=("d_steps", lambda x: x.sum() if x.notna().all() else math.nan)).reset_index()


def budget_curves(
    runs: pd.DataFrame,
    metric: str | Metric = "fid",
    *,
    which: str = "auto",
    by: str | Sequence[str] = "configurations",
    axes: Sequence[str] | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Expected best score as a function of the tuning budget: the number of configurations
    tried (``by="configurations"``) or the compute spent on them (``"d_steps"``: D steps, or
    ``"wall_s"``: wall seconds, machine-dependent); ``by`` may list several (one set of draws
    serves all of them).

    For each (dataset, loss[, other axes], phase) with search rows, every configuration gets
    (:func:`_configurations`) a *selection* score and a *reported* score: the selection score is
    the one the runner chooses with (``metric.select.<key>``: the validation split under
    ``eval.selection: validation``; ``metric.best.<key>`` for runs without one), the reported one
    the table's column (``metric.best.<key>``: the test split). The best of several configurations
    is the one with the best selection score (ties: the earlier sample) and the curve shows its
    reported score -- the curve never chooses on the reported split. A configuration without a
    score (failed, diverged) stays in the pool and is never the best. Under successive halving a
    configuration is its sample across rungs: its compute is that of all its runs, its scores
    those of the last rung it reached (a ``stopped`` configuration may be the best of a draw at
    its rung's score).

    ``n_boot`` seeded draws of K configurations with replacement are taken. By configurations:
    the best among the first k of a draw, k = 1..K. By compute: the budget B_k = k x the mean
    compute of a configuration (B_K = the phase's whole compute) buys the configurations of a
    draw, in draw order, whose cumulative compute (``counts.d_steps`` / ``cost.wall_s`` summed
    over their runs) stays within B_k; the best among them is that draw's value (none when the
    first one alone costs more). With equal compute per configuration both axes give the same
    numbers. A cell whose runs do not all record their D steps gets no D-step curve.

    Returns one row per (cell, phase, by, k): ``dataset, loss, [other axes,] phase, by, k, K, x,
    mean, lo, hi, p_none, d_steps, wall_s`` -- ``x``: k or B_k; ``mean``/``lo``/``hi``: mean and
    central ``confidence`` band of the reported score over the draws that bought a scored
    configuration; ``p_none``: share of draws that did not (left out of mean/band);
    ``d_steps``/``wall_s``: the expected compute of k configurations (k x the mean per configuration).
    """
    m = get_metric(metric)
    col = m.col(resolve_which(runs, m, which))
    kinds = [by] if isinstance(by, str) else list(by)
    for kind in kinds:
        if kind not in BUDGET_AXES:
            raise ValueError(f"by must be one of {', '.join(BUDGET_AXES)}, not {kind!r}")
    phase = _phase(runs)
    search = runs[phase.isin(SEARCH_PHASES)].assign(_phase=phase[phase.isin(SEARCH_PHASES)])
    cell_axes = [a for a in _axes(runs, axes) if a not in ("dataset", "loss")] if len(search) else []
    columns = ["dataset", "loss", *cell_axes, "phase", "by", "k", "K", "x", "mean", "lo", "hi", "p_none", "d_steps",
               "wall_s"]
    if search.empty:
        return pd.DataFrame(columns=columns)
    if "pacgan" in cell_axes:
        search = with_pacgan(search)
    sel_all, rep_all = _selection_values(search, m), _values(search, col)
    a = (1.0 - confidence) / 2.0
    out = []
    for key, g in search.groupby(["dataset", "loss", *cell_axes, "_phase"], sort=True, dropna=False):
        ds, loss, *extra, ph = key
        pool = _configurations(g, sel_all[g.index], rep_all[g.index])
        K = len(pool)
        s = pool["select"].to_numpy(float) * (-1.0 if m.higher_is_better else 1.0)
        rep = pool["reported"].to_numpy(float)
        s[~np.isfinite(s)] = np.inf
        order = np.lexsort((np.arange(K), s))  # best selection score first, ties: the earlier sample
        rank = np.empty(K, dtype=int)
        rank[order] = np.arange(K)
        rng = np.random.default_rng(stable_seed(seed, (ds, loss, *extra, ph)))
        idx = rng.integers(0, K, size=(n_boot, K))
        chosen = order[np.minimum.accumulate(rank[idx], axis=1)]  # the best of the first k, per draw
        value = np.where(np.isfinite(s[chosen]), rep[chosen], np.nan)
        totals = {c: float(pool[c].sum(min_count=1)) if pool[c].notna().all() else math.nan for c in ("d_steps", "wall_s")}
        for kind in kinds:
            if kind == "configurations":
                bought = np.broadcast_to(np.arange(1, K + 1), (n_boot, K))
            else:
                total = totals[kind]
                if not np.isfinite(total) or total <= 0:
                    continue  # compute not recorded: no curve on this axis
                # cumulative compute in draw order (non-decreasing: each budget buys a prefix),
                # compared as cum x K <= k x total: exact for integer D steps
                cum = np.cumsum(pool[kind].to_numpy(float)[idx], axis=1) * K
                budgets = np.arange(1, K + 1) * total / K
                bought = np.stack([(cum <= k * total * (1 + 1e-12)).sum(axis=1) for k in range(1, K + 1)], axis=1)
            for k in range(1, K + 1):
                n = bought[:, k - 1]
                v = np.where(n > 0, value[np.arange(n_boot), np.maximum(n, 1) - 1], np.nan)
                fin = v[np.isfinite(v)]
                if len(fin):
                    lo, hi = np.quantile(fin, [a, 1 - a])
                    mean = fin.mean()
                else:
                    lo = hi = mean = math.nan
                x = float(k) if kind == "configurations" else float(budgets[k - 1])
                out.append(dict(dataset=ds, loss=loss, **dict(zip(cell_axes, extra)), phase=ph, by=kind, k=k, K=K,
                                x=x, mean=float(mean), lo=float(lo), hi=float(hi),
                                p_none=float(1 - len(fin) / n_boot),
                                d_steps=k * totals["d_steps"] / K, wall_s=k * totals["wall_s"] / K))
    return pd.DataFrame.from_records(out, columns=columns)
