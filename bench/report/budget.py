"""The tuning budget of each cell in the report: the budget table (``results/<suite>/budget.json``,
written by the runner: configurations tried, runs, D steps, wall seconds per cell and phase), the
sentence that says whether the objectives' budgets are equal, and the budget curves (expected
best score by configurations tried and by compute, :func:`bench.aggregate.budget_curves`).

Results made before budgets were recorded have no ``budget.json``: the report says so and still
draws the curves, which read only ``runs.parquet``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench import aggregate as agg
from bench.errors import MetricsError
from bench.metrics.catalogue import Metric

__all__ = ["BUDGET_NAME", "load_budget", "budget_cells", "equality_sentence", "summary_sentence", "budget_rows",
           "budget_section", "budget_curve_figure", "fmt_steps", "fmt_wall"]

BUDGET_NAME = "budget.json"
PHASE_ORDER = ("grid", "wide", "narrow", "final")


def load_budget(results_dir) -> dict | None:
    """``results_dir/budget.json``; None where it is absent, ``{"_error": why}`` where unreadable."""
    path = Path(results_dir) / BUDGET_NAME
    if not path.exists():
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"_error": f"{BUDGET_NAME} unreadable: {exc}"}
    if not isinstance(loaded, dict) or not isinstance(loaded.get("cells"), list):
        return {"_error": f"{BUDGET_NAME} has no list of cells"}
    return loaded


def fmt_steps(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{int(v):,}"


def fmt_wall(seconds) -> str:
    """Wall time in the unit that reads best: seconds, minutes or hours."""
    if seconds is None or not np.isfinite(seconds):
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _axes_text(axes) -> str:
    try:
        d = json.loads(axes) if isinstance(axes, str) else dict(axes or {})
    except (TypeError, ValueError):
        return str(axes)
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _phase_text(name: str, ph: dict) -> str:
    parts = [] if name == "final" else [_plural(int(ph.get("configurations", 0)), "configuration")]
    rungs = ph.get("rungs") or []
    if rungs:
        parts[-1] += " (rungs: " + ", ".join(f"{r['configurations']} × {fmt_steps(r['steps'])}" for r in rungs) + ")"
    parts.append(_plural(int(ph.get("runs", 0)), "run"))
    d, planned = ph.get("d_steps", 0), ph.get("d_steps_planned", 0)
    parts.append(f"{fmt_steps(d)} D steps" + ("" if d == planned else f" of {fmt_steps(planned)} planned"))
    return f"{name}: " + ", ".join(parts)


def budget_cells(budget: dict | None) -> pd.DataFrame:
    """One row per cell of ``budget.json``: ``dataset, loss, axes, configurations, runs, d_steps,
    d_steps_planned, wall_s, phases`` (``axes``: the other grid axes as text; ``phases``: a line
    per phase)."""
    cols = ["dataset", "loss", "axes", "configurations", "runs", "d_steps", "d_steps_planned", "wall_s", "phases"]
    if not budget or "_error" in budget:
        return pd.DataFrame(columns=cols)
    recs = []
    for c in budget.get("cells", []):
        phases = c.get("phases") or {}
        names = sorted(phases, key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else len(PHASE_ORDER), p))
        recs.append({"dataset": c["dataset"], "loss": c["loss"], "axes": _axes_text(c.get("axes")),
                     "configurations": int(c.get("configurations", 0)), "runs": int(c.get("runs", 0)),
                     "d_steps": int(c.get("d_steps", 0)), "d_steps_planned": int(c.get("d_steps_planned", 0)),
                     "wall_s": float(c.get("wall_s", 0.0) or 0.0),
                     "phases": "; ".join(_phase_text(p, phases[p]) for p in names)})
    return pd.DataFrame.from_records(recs, columns=cols)


def _ordered(cells: pd.DataFrame) -> pd.DataFrame:
    order = {loss: i for i, loss in enumerate(agg.order_losses(cells["loss"]))}
    return cells.assign(_o=cells["loss"].map(order)).sort_values(["axes", "_o"], kind="stable").drop(columns="_o")


def budget_rows(cells: pd.DataFrame) -> list[dict]:
    """The cells of one dataset as display text, objectives in the report's order."""
    rows = []
    for _, r in _ordered(cells).iterrows():
        short = r["d_steps"] != r["d_steps_planned"]
        rows.append({"loss": agg.loss_label(r["loss"]), "axes": r["axes"], "configurations": f"{r['configurations']:,}",
                     "runs": f"{r['runs']:,}", "d_steps": fmt_steps(r["d_steps"]),
                     "d_steps_planned": fmt_steps(r["d_steps_planned"]),
                     "d_steps_note": f"of {fmt_steps(r['d_steps_planned'])} planned" if short else "",
                     "wall": fmt_wall(r["wall_s"]), "phases": r["phases"]})
    return rows


def _equal(cells: pd.DataFrame) -> tuple[bool, bool]:
    """Whether the objectives' planned budgets (configurations, D steps) are equal within each
    setting of the other axes, and whether they are equal over all cells."""
    cols = ["configurations", "d_steps_planned"]
    within = bool((cells.groupby("axes")[cols].nunique() <= 1).all().all())
    return within, bool((cells[cols].nunique() <= 1).all())


def summary_sentence(budget: dict | None, cells: pd.DataFrame) -> str:
    """One sentence for the top of the report: are the budgets equal on every dataset?"""
    if budget is None or "_error" in budget or cells.empty:
        return ("The tuning budget per objective is not stated for these results"
                + (f" ({budget['_error']})." if budget and "_error" in budget else f" (no {BUDGET_NAME})."))
    unequal = [agg.dataset_label(d) for d, c in cells.groupby("dataset") if not _equal(c)[0]]
    if not unequal:
        text = ("Every objective was given the same tuning budget on each dataset (configurations tried and D steps"
                + ("; checked when the suite loads)" if budget.get("equal_budgets", True) else ")"))
    else:
        text = "The objectives' tuning budgets differ on " + ", ".join(unequal)
    if not budget.get("equal_budgets", True):
        text += f"; the suite allows unequal budgets ({budget.get('unequal_budgets') or 'no reason recorded'})"
    return text + "."


WALL_NOTE = "Wall time is recorded, not enforced: it depends on the machine."


def equality_sentence(budget: dict | None, cells: pd.DataFrame, dataset: str, wall_note: bool = True) -> str:
    """Whether the objectives on ``dataset`` got equal budgets, in one or two sentences (and
    ``WALL_NOTE``)."""
    ds = agg.dataset_label(dataset)
    if budget is None:
        return (f"No {BUDGET_NAME} in the results (made before budgets were recorded): the tuning budget per "
                f"objective is not stated. Running `ganbench run` on the suite again writes it without retraining "
                f"finished runs.")
    if "_error" in budget:
        return f"The budget per objective is not stated: {budget['_error']}."
    if cells.empty:
        return f"{BUDGET_NAME} has no cell for {ds}."
    same, overall = _equal(cells)
    first = cells.iloc[0]
    if overall:
        what = (f"every objective on {ds} was given {_plural(int(first['configurations']), 'configuration')} and "
                f"{fmt_steps(first['d_steps_planned'])} D steps in all")
    elif same:
        what = f"every objective on {ds} was given the same budget for each setting of the other axes (below)"
    else:
        what = f"the objectives on {ds} were given different budgets (configurations and D steps planned below)"
    if budget.get("equal_budgets", True):
        text = (f"Equal budgets: {what} (the suite is checked when it loads: objectives with different budgets are "
                f"refused)." if same else f"Budgets differ: {what}.")
    else:
        why = budget.get("unequal_budgets") or "no reason recorded"
        text = (f"Budgets are not enforced equal: the suite sets allow_unequal_budgets: true ({why}); "
                + ("here " + what + "." if same else what + "."))
    short = cells[cells["d_steps"] < cells["d_steps_planned"]]
    if len(short):
        text += (" D steps trained fall short of those planned where runs diverged, failed or have not finished: "
                 + ", ".join(dict.fromkeys(agg.loss_label(x) for x in _ordered(short)["loss"])) + ".")
    return text + (" " + WALL_NOTE if wall_note else "")


# ---- budget curves ------------------------------------------------------------------------------
def _curve_metric(runs: pd.DataFrame, budget: dict | None, suite: dict, fallback: Metric | None) -> Metric | None:
    """The search's own metric (``budget.json`` / ``suite.yaml``: what chose the configurations)
    where these runs have it, else ``fallback`` (the dataset's first table metric)."""
    key = (budget or {}).get("metric") or ((suite or {}).get("search") or {}).get("metric")
    if key:
        try:
            m = agg.get_metric(key)
        except MetricsError:  # a name this version does not know: fall back
            m = None
        if m is not None and m.col("best") in runs.columns and np.isfinite(
                pd.to_numeric(runs[m.col("best")], errors="coerce").astype(float)).any():
            return m
    return fallback


def _selection_words(runs: pd.DataFrame, m: Metric) -> str:
    has_select = f"metric.select.{m.key}" in runs.columns and runs[f"metric.select.{m.key}"].notna().any()
    sel = set(runs["param.eval.selection"].dropna().astype(str)) if "param.eval.selection" in runs else set()
    if has_select and sel == {"validation"}:
        return ("chosen by its score on the validation split (held out of training), as the search chose; the curve "
                "shows its test-split score")
    if sel == {"test"}:
        return "chosen and shown by its test-split score (test selection: optimistic)"
    if not has_select:
        return ("chosen and shown by the same score (these records have no separate selection score: "
                "optimistic)")
    return "chosen by its selection score (metric.select) and shown by its reported score"


def budget_curve_figure(runs: pd.DataFrame, metric: Metric, dataset: str, n_boot: int) -> tuple[bytes | None, str]:
    """PNG of the budget curves of one dataset's search (by configurations, D steps and wall
    seconds) and its caption; ``(None, "")`` without search runs."""
    from bench.report import figures

    bc = agg.budget_curves(runs, metric, by=agg.BUDGET_AXES, n_boot=n_boot)
    if bc.empty:
        return None, ""
    png = figures.budget_plot(bc, metric, dataset)
    conf = bc[bc["by"] == "configurations"]
    K = conf.groupby(["loss", "phase"])["K"].max()
    order = {loss: i for i, loss in enumerate(agg.order_losses(conf["loss"]))}
    per = "; ".join(f"{agg.loss_label(loss)} {ph} {k}" for (loss, ph), k in sorted(K.items(), key=lambda x: order[x[0][0]]))
    missing = agg.order_losses(set(conf["loss"]) - set(bc.loc[bc["by"] == "d_steps", "loss"]))
    caption = (
        f"Expected best {metric.label} ({metric.direction}) an objective's search reaches, by configurations tried "
        f"(left), by D steps spent (centre) and by wall seconds (right; machine-dependent). {n_boot:,} seeded "
        f"bootstrap draws of the K searched configurations with replacement; the best configuration of a draw is "
        f"{_selection_words(runs, metric)}. Line: mean over draws; band: central 95%. By compute: a budget B buys "
        f"the configurations of a draw, in draw order, whose cumulative D steps (wall seconds), summed over all "
        f"their runs, stay within B; B runs to the search's whole compute in steps of one configuration's mean. "
        f"Under successive halving a configuration counts the compute of every rung it trained, and one that was "
        f"stopped counts with its score at the last rung it reached. Configurations per objective and phase (K): "
        f"{per}.")
    none = float(bc.loc[bc["p_none"] < 1, "p_none"].max()) if (bc["p_none"] < 1).any() else 0.0
    if none > 0 or (bc["p_none"] == 1).any():
        caption += (f" Draws that bought no configuration with a score are left out of a point (at most {none:.0%} of "
                    f"them); a point no draw reaches is not drawn.")
    if missing:
        caption += (" No D-step curve for " + ", ".join(agg.loss_label(x) for x in missing)
                    + ": some runs record no D steps.")
    return png, caption


def budget_section(budget: dict | None, cells: pd.DataFrame, runs: pd.DataFrame, dataset: str, suite: dict,
                   fallback: Metric | None, n_boot: int) -> dict:
    """The report's budget block of one dataset: table rows, the equal-budget sentence and, for
    a search, the budget curves (a grid suite: a sentence that there is none)."""
    mine = cells[cells["dataset"] == dataset] if len(cells) else cells
    ds_runs = runs[runs["dataset"] == dataset]
    searched = "search.phase" in ds_runs and bool(ds_runs["search.phase"].isin(agg.SEARCH_PHASES).any())
    sec = {"anchor": f"budget-{dataset}", "rows": budget_rows(mine), "axes": bool(len(mine) and (mine["axes"] != "").any()),
           "phases": bool(len(mine) and mine["phases"].str.contains(";").any()),
           "sentence": equality_sentence(budget, mine, dataset), "img": None, "caption": "", "no_curve": ""}
    if not searched:
        sec["no_curve"] = ("One configuration per objective and no search: there is no budget curve (expected best "
                           "score by configurations tried or compute) for this dataset.")
        return sec
    metric = _curve_metric(ds_runs, budget, suite, fallback)
    if metric is None:
        sec["no_curve"] = "No search run has a score: no budget curve."
        return sec
    sec["img"], sec["caption"] = budget_curve_figure(ds_runs, metric, dataset, n_boot)
    sec["metric"] = metric.label
    return sec
