"""Turn the results table (``runs.parquet``) into report cells.

Everything here is a plain function of the runs table: nothing reads Ray state,
checkpoints or curves.  A *cell* is one (dataset, loss[, other axes]) combination;
it carries the mean and sample standard deviation of a metric over seeds, the counts
of runs that were left out and why, a seeded bootstrap confidence interval of the
mean, and whether the objective differs significantly from the best one in its column
(two-sided Mann-Whitney U over seeds).

Selection rules (which rows of a cell are aggregated):

* ``search.phase == "final"`` present: the best configuration retrained over seeds
  (Lucic et al. 2018) -- only the final rows are used.
* ``search.phase == "grid"``: all seeds of the (dataset, loss) configuration.
* only search rows (``wide`` / ``narrow``): the configuration (``search.config_id``)
  with the best mean metric over the search rows is used, and the rule says so
  (this is optimistic: the same runs chose and score the configuration).

Diverged and failed runs have no score: they are left out of mean/std and counted.
Collapsed runs are kept unless ``exclude_collapsed=True``.  Whatever is left out is
written into the cell note ("1/5 excluded: diverged") -- never silently dropped.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "MetricDef",
    "METRICS",
    "COST_METRICS",
    "LOSS_LABELS",
    "DATASET_LABELS",
    "SEARCH_PHASES",
    "get_metric",
    "available_metrics",
    "metric_column",
    "loss_label",
    "order_losses",
    "dataset_label",
    "select_rows",
    "aggregate",
    "Table",
    "cost_table",
    "budget_curves",
    "compare_reference",
    "Comparison",
    "representative_runs",
]

SEARCH_PHASES = ("wide", "narrow")


# --------------------------------------------------------------------------------------
# Metric registry: the ONE place that declares column, label, direction and format.
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricDef:
    """Declaration of one reported metric.

    ``column`` is a template: ``{which}`` is replaced by ``best`` or ``final`` for
    quality metrics (``metric.best.frechet_inception_distance``); cost metrics name a
    fixed column.
    """

    id: str
    column: str
    label: str
    higher_is_better: bool
    fmt: str = "{:.2f}"
    kind: str = "quality"  # "quality" | "cost"

    @property
    def key(self) -> str:
        """The torch-fidelity / metric key (last dotted component of the column)."""
        return self.column.rsplit(".", 1)[-1]

    def col(self, which: str = "best") -> str:
        return self.column.format(which=which)

    def format(self, value: float) -> str:
        if value is None or not np.isfinite(value):
            return "—"
        return self.fmt.format(value)

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


def _q(id_, key, label, higher, fmt):
    return MetricDef(id_, "metric.{which}." + key, label, higher, fmt, "quality")


METRICS: dict[str, MetricDef] = {
    m.id: m
    for m in [
        _q("fid", "frechet_inception_distance", "FID", False, "{:.1f}"),
        _q("is", "inception_score_mean", "IS", True, "{:.2f}"),
        _q("kid", "kernel_inception_distance_mean", "KID", False, "{:.4f}"),
        _q("precision", "precision", "Precision", True, "{:.3f}"),
        _q("recall", "recall", "Recall", True, "{:.3f}"),
        _q("f_score", "f_score", "F-score", True, "{:.3f}"),
        _q("modes_covered", "modes_covered", "Modes covered", True, "{:.1f}"),
        _q("high_quality_fraction", "high_quality_fraction", "High-quality samples", True, "{:.3f}"),
        _q("mode_kl", "mode_kl", "Mode KL", False, "{:.3f}"),
        _q("classes_covered", "classes_covered", "Classes covered", True, "{:.1f}"),
        _q("class_kl", "class_kl", "Class KL", False, "{:.3f}"),
        MetricDef("steps_per_s", "cost.steps_per_s", "Steps/s", True, "{:.1f}", "cost"),
        MetricDef("wall_s", "cost.wall_s", "Wall time per run (s)", False, "{:.0f}", "cost"),
    ]
}
COST_METRICS = [m for m in METRICS.values() if m.kind == "cost"]

LOSS_LABELS = {
    "mm": "MM GAN",
    "ns": "NS GAN",
    "lsgan": "LSGAN",
    "wgan": "WGAN",
    "wgan-gp": "WGAN-GP",
    "dragan": "DRAGAN",
    "began": "BEGAN",
    "acgan": "ACGAN",
    "infogan": "InfoGAN",
}
DATASET_LABELS = {
    "mnist": "MNIST",
    "fashion-mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "celeba": "CelebA",
    "mnist-5k": "MNIST-5k",
    "ring8": "Ring-8",
    "grid25": "Grid-25",
}
EXTRACTOR_LABELS = {
    "inception": "InceptionV3 (2015-12-05, torch-fidelity)",
    "inception-offline": "InceptionV3 (2015-12-05, offline TorchScript port)",
    "classifier": "domain classifier",
    "modes": "mode assignment (2-D)",
}


def loss_label(name: str) -> str:
    return LOSS_LABELS.get(name, str(name))


def dataset_label(name: str) -> str:
    return DATASET_LABELS.get(name, str(name))


def order_losses(losses: Iterable[str]) -> list[str]:
    """Registry order for known objectives, then the others sorted."""
    s = set(losses)
    return [k for k in LOSS_LABELS if k in s] + sorted(s - set(LOSS_LABELS))


def get_metric(name: str | MetricDef) -> MetricDef:
    """Look a metric up by id (``fid``), torch-fidelity key or column template."""
    if isinstance(name, MetricDef):
        return name
    if name in METRICS:
        return METRICS[name]
    for m in METRICS.values():
        if name in (m.key, m.column, m.label):
            return m
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


def _resolve_which(runs: pd.DataFrame, metric: MetricDef, which: str) -> str:
    """``auto``: use the rule recorded in ``eval.selection`` (best-over-checkpoints ->
    ``best``), falling back to whichever column exists."""
    if metric.kind == "cost":
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


def metric_column(runs: pd.DataFrame, metric: str | MetricDef, which: str = "auto") -> str:
    m = get_metric(metric)
    return m.col(_resolve_which(runs, m, which))


def available_metrics(runs: pd.DataFrame, which: str = "auto", kind: str = "quality") -> list[MetricDef]:
    """Metrics of ``kind`` with at least one finite value in the table, registry order."""
    out = []
    for m in METRICS.values():
        if m.kind != kind:
            continue
        col = metric_column(runs, m, which)
        if col in runs.columns and np.isfinite(pd.to_numeric(runs[col], errors="coerce").astype(float)).any():
            out.append(m)
    return out


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
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


def _axes(runs: pd.DataFrame, axes: Sequence[str] | None) -> list[str]:
    if axes is None:
        axes = ["dataset", "loss"]
        # "model" is an axis only when one (dataset, loss) was run with several models
        if "model" in runs.columns and len(runs) and runs.groupby(["dataset", "loss"])["model"].nunique().max() > 1:
            axes.append("model")
    axes = list(axes)
    if "loss" not in axes:
        raise ValueError("axes must contain 'loss' (objectives are the table rows)")
    return axes


def _stable_seed(seed: int, key: Iterable) -> list[int]:
    return [int(seed), zlib.crc32("\x1f".join(map(str, key)).encode())]


def bootstrap_ci(x: np.ndarray, n_boot: int = 2000, confidence: float = 0.95, seed=0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded, deterministic)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return (math.nan, math.nan)
    if len(x) == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return (float(lo), float(hi))


def mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; NaN when a side is empty."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def min_mann_whitney_p(n1: int, n2: int) -> float:
    """The smallest two-sided exact Mann-Whitney p-value samples of sizes n1 and n2 can give
    (complete separation): 2 / C(n1 + n2, n1). Above alpha, the test has no power at all."""
    if n1 == 0 or n2 == 0:
        return math.nan
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


# --------------------------------------------------------------------------------------
# selection
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# aggregation
# --------------------------------------------------------------------------------------
@dataclass
class Table:
    """Cells of one metric.  ``cells`` has one row per (axes) combination with columns
    ``mean, std, n, n_total, n_failed, n_diverged, n_missing, n_collapsed,
    n_collapsed_excluded, ci_low, ci_high, p_vs_best, best, tied_with_best, note, rule,
    values, run_ids, column`` plus the axis columns."""

    metric: MetricDef
    cells: pd.DataFrame
    axes: list[str]
    which: str
    extractors: list[str]
    exclude_collapsed: bool
    alpha: float
    confidence: float
    notes: list[str] = field(default_factory=list)

    @property
    def column_axes(self) -> list[str]:
        return [a for a in self.axes if a != "loss"]

    def rules(self) -> list[str]:
        return sorted(set(self.cells["rule"]))

    def extractor_text(self) -> str:
        if not self.extractors:
            return "unknown extractor"
        return ", ".join(f"{e} ({EXTRACTOR_LABELS[e]})" if e in EXTRACTOR_LABELS else e for e in self.extractors)

    def selection_text(self) -> str:
        if self.metric.kind == "cost":
            return ""
        return "best over checkpoints" if self.which == "best" else "final checkpoint"

    def cell_text(self, row) -> str:
        if row["n"] == 0:
            return "—"
        if row["n"] == 1 or not np.isfinite(row["std"]):
            return self.metric.format(row["mean"])
        return f"{self.metric.format(row['mean'])} ± {self.metric.format(row['std'])}"

    def caption(self) -> str:
        m = self.metric
        parts = [
            f"{m.label} ({m.direction}): mean ± sample std over seeds"
            + (f", {self.selection_text()}" if self.selection_text() else "")
            + "."
        ]
        parts.append(f"Extractor: {self.extractor_text()}.")
        parts.append(
            "Bold: best mean per column; underlined: not significantly different from the best "
            f"(two-sided Mann–Whitney U over seeds, α = {self.alpha:g})."
        )
        untestable = self.cells[~self.cells["testable"].astype(bool)] if "testable" in self.cells else self.cells[:0]
        if len(untestable):
            best_n = {c: int(n) for c, n, b in zip(self.cells["column"], self.cells["n"], self.cells["best"]) if b}
            pairs = sorted({(best_n[c], int(n)) for n, c in zip(untestable["n"], untestable["column"])}, reverse=True)
            sizes = "; ".join(f"{a} vs {b} seeds: {min_mann_whitney_p(a, b):.2g}" for a, b in pairs)
            parts.append(
                f"{len(untestable)} cell(s) are neither: with so few seeds no outcome could reach α "
                f"(smallest possible p, best vs cell: {sizes}); run more seeds to test them.")
        parts.append("Selection: " + "; ".join(self.rules()) + ".")
        left = [
            f"{loss_label(r['loss'])} / {r['column']}: {r['note']}"
            for _, r in self.cells.iterrows()
            if r["note"]
        ]
        if left:
            parts.append("Exclusions and flags: " + "; ".join(left) + ".")
        parts.extend(self.notes)
        return " ".join(parts)

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


def _column_label(key: tuple, col_axes: list[str]) -> str:
    parts = []
    for a, v in zip(col_axes, key):
        parts.append(dataset_label(v) if a == "dataset" else str(v))
    return " / ".join(parts) if parts else "all"


def _dataset_rank(v):
    keys = list(DATASET_LABELS)
    return (keys.index(v), "") if v in keys else (len(keys), str(v))


def aggregate(
    runs: pd.DataFrame,
    metric: str | MetricDef = "fid",
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
    which = _resolve_which(runs, m, which)
    col = m.col(which)
    axes = _axes(runs, axes)
    col_axes = [a for a in axes if a != "loss"]
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
        ci = bootstrap_ci(x, n_boot, confidence, _stable_seed(seed, key))
        records.append(
            {
                **kd,
                "column": _column_label(tuple(kd[a] for a in col_axes), col_axes),
                "_col_order": tuple(_dataset_rank(kd[a]) if a == "dataset" else (0, str(kd[a])) for a in col_axes),
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
    cells["p_vs_best"] = math.nan
    cells["testable"] = True  # False: too few seeds for the test to reach alpha against the best
    for _, idx in cells.groupby("column", sort=False).groups.items():
        sub = cells.loc[idx]
        sub = sub[sub["n"] > 0]
        if sub.empty:
            continue
        b = sub["mean"].idxmax() if m.higher_is_better else sub["mean"].idxmin()
        cells.loc[b, "best"] = True
        cells.loc[b, "tied_with_best"] = True
        cells.loc[b, "p_vs_best"] = 1.0
        for i in sub.index:
            if i == b:
                continue
            p = mann_whitney_p(cells.at[b, "values"], cells.at[i, "values"])
            cells.at[i, "p_vs_best"] = p
            if min_mann_whitney_p(len(cells.at[b, "values"]), len(cells.at[i, "values"])) >= alpha:
                cells.at[i, "testable"] = False  # no outcome could be significant: mark nothing
            else:
                cells.at[i, "tied_with_best"] = bool(np.isfinite(p) and p >= alpha)
    extractors = []
    if "eval.extractor" in runs.columns and m.kind == "quality":
        scored = runs[np.isfinite(_values(runs, col))]
        extractors = sorted(set(scored["eval.extractor"].dropna().astype(str)))
    return Table(m, cells, axes, which, extractors, exclude_collapsed, alpha, confidence)


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
    recs = []
    groups = sorted(runs.groupby(axes, sort=False, dropna=False),
                    key=lambda kv: tuple(_dataset_rank(v) if a == "dataset" else (0, str(v)) for a, v in zip(axes, kv[0])))
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
    metric: str | MetricDef = "fid",
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
    col = m.col(_resolve_which(runs, m, which))
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
        rng = np.random.default_rng(_stable_seed(seed, (ds, loss, ph)))
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


# --------------------------------------------------------------------------------------
# published references
# --------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """Our cells beside a published table.  When ``comparable`` is False, ``reason``
    says why and ``cells`` is empty."""

    reference: object
    comparable: bool
    reason: str
    cells: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def caption(self) -> str:
        ref = self.reference
        if not self.comparable:
            return f"No comparison with {ref.short}: {self.reason}"
        txt = (
            f"Ours beside {ref.short} ({ref.source_short}), {ref.metric_label} mean ± std. "
            f"'in 2σ': our mean lies within the published mean ± 2 std. "
            f"* published cell with outlier runs left out. 'not run': published only."
        )
        if self.warnings:
            txt += " Caveats: " + " ".join(self.warnings)
        return txt


def compare_reference(table: Table, reference: str | object = "lucic2018", runs: pd.DataFrame | None = None) -> Comparison:
    """Put a published reference beside our cells.

    Refuses (``comparable=False`` with a reason) unless the metric is the reference's
    metric and every scored run used one of the reference's comparable extractors.
    """
    from bench import references

    ref = references.load(reference) if isinstance(reference, str) else reference
    reason = ref.refuse_reason(table.metric.key, table.extractors)
    if reason:
        return Comparison(ref, False, reason, pd.DataFrame())
    warnings = []
    if table.which != "best" and ref.selection == "best-over-checkpoints":
        warnings.append("Published values are the best over checkpoints; ours use the final checkpoint.")
    if runs is not None:
        for colname, ref_val, what in [("eval.n_fake", ref.n_fake, "generated samples"), ("eval.n_real", ref.n_real, "real samples")]:
            if colname in runs.columns and ref_val:
                vals = sorted(set(pd.to_numeric(runs[colname], errors="coerce").dropna().astype(int)))
                if vals and vals != [ref_val]:
                    warnings.append(
                        f"FID depends on sample count: ours used {', '.join(map(str, vals))} {what}, published {ref_val}."
                    )
    pub = ref.table
    c = table.cells
    recs = []
    ds_cols = [d for d in ref.datasets if d in set(c.get("dataset", []))]
    for _, p in pub.iterrows():
        if p["dataset"] not in ds_cols:
            continue
        ours = c[(c["loss"] == p["loss"]) & (c["dataset"] == p["dataset"])] if p["loss"] else c.iloc[0:0]
        if ours.empty:
            recs.append(dict(loss=p["loss"], row_label=p["row_label"], dataset=p["dataset"], ours_mean=math.nan,
                             ours_std=math.nan, n=0, pub_mean=p["mean"], pub_std=p["std"],
                             outliers_excluded=p["outliers_excluded"], within=None,
                             status="not run"))
            continue
        for _, o in ours.iterrows():
            within = None
            if o["n"] > 0:
                within = bool(abs(o["mean"] - p["mean"]) <= 2.0 * p["std"] + 1e-12)
            recs.append(dict(loss=p["loss"], row_label=p["row_label"], dataset=p["dataset"], ours_mean=o["mean"],
                             ours_std=o["std"], n=int(o["n"]), pub_mean=p["mean"], pub_std=p["std"],
                             outliers_excluded=p["outliers_excluded"], within=within,
                             status="compared" if o["n"] else "no score"))
    # our objectives without a published row (e.g. acgan)
    pub_losses = set(pub["loss"].dropna())
    for _, o in c[c["dataset"].isin(ds_cols) & ~c["loss"].isin(pub_losses)].iterrows():
        recs.append(dict(loss=o["loss"], row_label=loss_label(o["loss"]), dataset=o["dataset"], ours_mean=o["mean"],
                         ours_std=o["std"], n=int(o["n"]), pub_mean=math.nan, pub_std=math.nan,
                         outliers_excluded=False, within=None, status="not published"))
    return Comparison(ref, True, "", pd.DataFrame.from_records(recs), warnings)
