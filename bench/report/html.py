"""Self-contained HTML report: one file that opens offline (inline CSS, figures embedded as base64
PNG). The first screen holds the overview (:mod:`bench.report.overview`) and, beside it, a gallery
of one sample grid or scatter plot per objective and dataset; a sticky navigation leads to the
tables by metric, the score distributions, one section per dataset, and cost, runs and provenance
at the end."""

from __future__ import annotations

import base64
import datetime as _dt
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from bench import aggregate as agg
from bench.metrics.catalogue import Metric
from bench.report import figures, latex, markdown
from bench.report.budget import budget_cells, budget_section, load_budget, summary_sentence
from bench.report.captions import comparison_caption, table_caption
from bench.report.floor import FLOOR_LABEL, attach_floors, real_data_floors
from bench.report.overview import DAGGER, Overview, build_overview

__all__ = ["load_results", "write_report", "main_report"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------------------
def load_results(results_dir: Path, from_records: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read ``runs.parquet``, ``curves.parquet`` (optional) and ``suite.yaml`` (optional); with
    ``from_records`` the run records themselves, in memory (a live report writes nothing)."""
    results_dir = Path(results_dir)
    runs_path = results_dir / "runs.parquet"
    if from_records:
        from bench.collect import read_results

        runs, curves = read_results(results_dir, log=lambda m: log.warning("%s", m))
    elif not runs_path.exists():
        raise FileNotFoundError(f"{runs_path} not found: run `ganbench collect` first")
    else:
        runs = pd.read_parquet(runs_path)
        curves_path = results_dir / "curves.parquet"
        curves = (pd.read_parquet(curves_path) if curves_path.exists()
                  else pd.DataFrame(columns=["run_id", "step", "name", "value"]))
    suite = {}
    suite_path = results_dir / "suite.yaml"
    if suite_path.exists():
        try:
            import yaml

            loaded = yaml.safe_load(suite_path.read_text(encoding="utf-8"))
            suite = loaded if isinstance(loaded, dict) else {}
        except Exception as exc:  # report must still be written; say why
            suite = {"_error": f"suite.yaml unreadable: {exc}"}
    return runs, curves, suite


def _data_uri(png: bytes | None) -> str | None:
    if not png:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _file_uri(path: Path) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return _data_uri(data) if data.startswith(PNG_MAGIC) else None


def _fmt_num(v, fmt="{:.4g}") -> str:
    try:
        if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, (float, np.floating)):
        return fmt.format(float(v))
    return str(v)


# --------------------------------------------------------------------------------------
# context pieces
# --------------------------------------------------------------------------------------
def _pub_index(comp: agg.Comparison | None) -> dict:
    """Published cells by (our loss, or the paper's row label when we do not run it; column);
    a compared row wins over a 'not run' one for the same key."""
    pub = {}
    if comp is None or not comp.comparable or comp.cells.empty:
        return pub
    for _, r in comp.cells.iterrows():
        key = (r["loss"] if r["loss"] else r["row_label"], r["column"])
        if key in pub and r["status"] == "not run":
            continue
        pub[key] = r
    return pub


def _cell_title(t: agg.Table, r) -> str:
    """The hover text of a cell: runs scored, CI of the mean, rank interval, selection rule."""
    conf = int(round(t.confidence * 100))
    title = f"n = {r['n']} of {r['n_total']}"
    if r["n"]:
        title += f"; {conf}% bootstrap CI of the mean [{t.metric.format(r['ci_low'])}, {t.metric.format(r['ci_high'])}]"
    if "rank_lo" in r and r["n"] and np.isfinite(r["rank_lo"]):
        title += f"; rank {int(r['rank_lo'])}–{int(r['rank_hi'])} ({conf}% bootstrap interval over seeds)"
    return title + f"; {r['rule']}"


def _overview_context(ov: Overview | None) -> dict | None:
    """The overview table as the template draws it: group headers linking to each dataset's
    section, metric headers linking to their detailed table, marked cells, notes."""
    if ov is None:
        return None
    rows = []
    for loss, cells in ov.rows():
        out = []
        for c, col in zip(cells, ov.columns):
            cls = "best" if c.best else ("tied" if c.tied else ("notrun" if not c.text else ""))
            out.append({"text": c.text, "cls": cls, "marker": c.marker,
                        "title": _cell_title(col.table, c.row) if c.row is not None else "not run"})
        rows.append({"label": agg.loss_label(loss), "cells": out})
    starts = {i for i, (c, prev) in enumerate(zip(ov.columns, [None, *ov.columns]))
              if prev is None or c.group != prev.group}  # the first column of each dataset
    for r in rows:
        for i, c in enumerate(r["cells"]):
            c["gstart"] = i in starts
    return {
        "groups": [{"label": g, "span": k, "anchor": f"ds-{ds}"} for g, ds, k in ov.groups],
        "columns": [{"label": c.label, "arrow": c.metric.arrow, "dagger": DAGGER if c.untestable else "",
                     "anchor": f"table-{c.metric.id}", "direction": c.metric.direction, "gstart": i in starts}
                    for i, c in enumerate(ov.columns)],
        "floor_starts": [i in starts for i in range(len(ov.columns))],
        "rows": rows,
        "floor": ov.floor,
        "caption": ov.caption(),
        "footnotes": ov.footnotes,
        "statistics": ov.statistics(),
    }


def _table_context(t: agg.Table, comp: agg.Comparison | None, shared_selection: str | None = None) -> dict:
    cols = t.column_order()
    cells = {(r["loss"], r["column"]): r for _, r in t.cells.iterrows()}
    # published values inside our cells only where the cells hold what was compared
    pub = _pub_index(comp) if comp is None or comp.which in ("", t.which) else {}
    rows = []
    for loss in t.loss_order():
        out = []
        for col in cols:
            r = cells.get((loss, col))
            p = pub.get((loss, col))
            if r is None:
                out.append({"text": "not run" if p is not None else "", "cls": "notrun", "title": "", "note": "",
                            "pub": _pub_ctx(p, comp, t.metric)})
                continue
            cls = "best" if r["best"] else ("tied" if r["tied_with_best"] else "")
            out.append({"text": t.cell_text(r), "cls": cls, "title": _cell_title(t, r), "note": r["note"],
                        "pub": _pub_ctx(p, comp, t.metric)})
        rows.append({"label": agg.loss_label(loss), "cells": out, "published_only": False})
    if t.floor:
        out = []
        for col in cols:
            v, note = t.floor.get(col, (None, ""))
            out.append({"text": t.metric.format(v) if v is not None else ("—" if col in t.floor else ""),
                        "cls": "floor", "title": note, "note": "" if v is not None else note, "pub": None})
        rows.append({"label": FLOOR_LABEL, "cells": out, "published_only": False, "floor": True})
    if comp is not None and comp.comparable and not comp.cells.empty:
        # published rows of objectives we do not run (e.g. VAE, ALI)
        ours = set(t.cells["loss"])
        nr = comp.cells[(comp.cells["status"] == "not run")]
        for label in dict.fromkeys(nr["row_label"]):
            losses = set(nr.loc[nr["row_label"] == label, "loss"].dropna())
            if any(r["label"] == label for r in rows) or losses & ours:
                continue
            out = []
            for col in cols:
                p = pub.get((label, col))
                out.append({"text": "not run", "cls": "notrun", "title": "published only", "note": "",
                            "pub": _pub_ctx(p, comp, t.metric)})
            rows.append({"label": f"{label} (published only)", "cells": out, "published_only": True})
    return {
        "id": t.metric.id,
        "title": f"{t.metric.label} {t.metric.arrow}",
        "direction": t.metric.direction,
        "caption": table_caption(t, short=True, shared_selection=shared_selection),
        "columns": cols,
        "rows": rows,
        "comparison": comparison_caption(comp) if comp is not None else "",
        "comparable": bool(comp is not None and comp.comparable),
        "comparison_rows": _comparison_rows(comp, t.metric),
        "comparison_which": "" if comp is None or not comp.which else (
            "final checkpoint" if comp.which == "final" else "best over checkpoints"),
    }


def _comparison_rows(comp: agg.Comparison | None, metric: Metric) -> list[dict]:
    """Every published cell beside ours (also those the summary table has no column for)."""
    if comp is None or not comp.comparable or comp.cells.empty:
        return []
    out = []
    sp = comp.reference.spread_short
    for _, r in comp.cells.iterrows():
        ours = "—"
        if r["n"] and not math.isnan(r["ours_mean"]):
            ours = metric.format(r["ours_mean"]) + ("" if math.isnan(r["ours_std"]) else f" ± {metric.format(r['ours_std'])} (std)")
            ours += f", n = {int(r['n'])}"
        elif r["status"] == "not run":
            ours = "not run"
        pubtxt = "" if math.isnan(r["pub_mean"]) else f"{metric.format(r['pub_mean'])} ± {metric.format(r['pub_std'])} ({sp})"
        w = r["within"]
        verdict = "" if w is None or (isinstance(w, float) and math.isnan(w)) else (f"within 2{sp}" if w else f"outside 2{sp}")
        out.append({"row": r["row_label"], "column": r["column"], "ours": ours, "pub": pubtxt, "verdict": verdict,
                    "status": r["status"]})
    return out


def _rankings(t: agg.Table, ds: str) -> list[dict]:
    """Per column of dataset ``ds`` in table ``t``: the ranking with bootstrap rank intervals and
    the matrix of pairwise win probabilities."""
    out = []
    conf = int(round(t.confidence * 100))
    cols = [c for c in t.column_order() if c in set(t.cells.loc[t.cells["dataset"] == ds, "column"])]
    for k, col in enumerate(cols):
        r = agg.ranking(t, col)
        if r.empty:
            continue
        rows = []
        for _, x in r.iterrows():
            score = t.metric.format(x["mean"]) + ("" if not np.isfinite(x["std"]) else f" ± {t.metric.format(x['std'])}")
            verdict = "best" if x["best"] else ("—" if not x["testable"] else (
                "not distinguishable" if x["tied_with_best"] else "worse"))
            rows.append({"label": agg.loss_label(x["loss"]), "score": score, "n": int(x["n"]), "rank": int(x["rank"]),
                         "interval": f"{int(x['rank_lo'])}–{int(x['rank_hi'])}", "p_first": f"{x['p_first']:.2f}",
                         "verdict": verdict})
        w = agg.win_matrix(t, col)
        labels = [agg.loss_label(x) for x in w.index]
        matrix = [{"label": agg.loss_label(a), "cells": ["" if not np.isfinite(v) else f"{v:.2f}" for v in w.loc[a]]}
                  for a in w.index]
        too_few = ""
        if not r["testable"].all() or (r["n"] < agg.MIN_SEEDS).any():
            too_few = (f"Too few seeds for any conclusion: some objective has fewer than {agg.MIN_SEEDS} scored "
                       f"seeds (fewest: {int(r['n'].min())}). The ranks and probabilities below describe these "
                       f"seeds only.")
        out.append({
            "id": f"{ds}-{t.metric.id}-{k}", "column": col, "metric": t.metric.label, "conf": conf, "rows": rows,
            "labels": labels, "matrix": matrix, "too_few": too_few, "direction": t.metric.direction,
            "caption": (f"Objectives by mean {t.metric.label} ({t.metric.direction}); rank 1 = best; rank interval: "
                        f"central {conf}% of the bootstrap rankings over seeds; 'not distinguishable': the interval "
                        f"reaches rank 1 (Statistics, under the overview)."),
        })
    return out


def loss_row_label(comp: agg.Comparison, loss: str) -> str:
    for label, ours in comp.reference.rows.items():
        if ours == loss:
            return label
    return agg.loss_label(loss)


def _pub_ctx(p, comp, metric: Metric | None = None) -> dict | None:
    if p is None or (isinstance(p["pub_mean"], float) and math.isnan(p["pub_mean"])):
        return None
    within = p["within"]
    sp = comp.reference.spread_short
    verdict = "" if within is None or (isinstance(within, float) and math.isnan(within)) else (
        f"within published ± 2{sp}" if within else f"outside published ± 2{sp}")
    fmt = (lambda v: f"{v:.1f}") if metric is None or comp.reference.key == "lucic2018" else metric.format
    return {
        "text": f"{fmt(p['pub_mean'])} ± {fmt(p['pub_std'])}" + ("*" if p["outliers_excluded"] else ""),
        "source": comp.reference.short,
        "verdict": verdict,
        "cls": "" if not verdict else ("within" if within else "outside"),
    }


def _provenance(runs: pd.DataFrame, suite: dict, results_dir: Path) -> list[tuple[str, str]]:
    def uniq(col):
        if col not in runs.columns:
            return "—"
        vals = [str(v) for v in runs[col].dropna().unique()]
        return ", ".join(sorted(vals)) if vals else "—"

    items = [
        ("Results directory", str(results_dir)),
        ("Suite", str(suite.get("name") or uniq("suite"))),
        ("Suite version", str(suite.get("version", "—")) if suite else "— (suite.yaml missing)"),
        ("Runs", f"{len(runs)} ({', '.join(f'{k}: {v}' for k, v in runs['status'].value_counts().items())})" if "status" in runs else str(len(runs))),
        ("ganbench", uniq("env.ganbench")),
        ("torch", uniq("env.torch")),
        ("Python", uniq("env.python")),
        ("Git SHA", uniq("env.git_sha")),
        ("Device", uniq("cost.device")),
        ("Extractor", uniq("eval.extractor")),
        ("Extractor hash", uniq("eval.extractor_hash")),
        ("Real / fake samples", f"{uniq('eval.n_real')} / {uniq('eval.n_fake')}"),
        ("Reference split", uniq("eval.ref_split")),
        ("Checkpoint selection", uniq("eval.selection")),
        ("Report generated", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if suite.get("_error"):
        items.append(("Warning", suite["_error"]))
    return items


def _runs_rows(runs: pd.DataFrame, primary: Metric | None, which: str) -> tuple[list[str], list[list[str]]]:
    cols = [c for c in ["run_id", "dataset", "loss", "model", "seed", "search.phase", "status", "reason", "collapsed"] if c in runs.columns]
    score_col = primary.col(which) if primary is not None else None
    header = cols + ([primary.label] if score_col and score_col in runs.columns else []) + ["wall s", "device"]
    rows = []
    order = [c for c in ["dataset", "loss", "seed"] if c in runs.columns]
    for _, r in runs.sort_values(order).iterrows():
        row = [_fmt_num(r[c]) for c in cols]
        if score_col and score_col in runs.columns:
            row.append(primary.format(float(r[score_col])) if pd.notna(r[score_col]) else "")
        row.append(_fmt_num(r.get("cost.wall_s"), "{:.0f}"))
        row.append(_fmt_num(r.get("cost.device")))
        rows.append(row)
    return header, rows


def _status_of(runs: pd.DataFrame, run_id: str) -> dict:
    r = runs[runs["run_id"] == run_id].iloc[0]
    return r


# --------------------------------------------------------------------------------------
# main entry points
# --------------------------------------------------------------------------------------
def write_report(results_dir, reports_dir, compare: str | None = None, *, n_boot: int = 2000,
                 exclude_collapsed: bool = False, real_data: bool = True, data_root=None, cache_dir=None,
                 device: str = "cpu", from_records: bool = False, pending_note: str = "") -> dict[str, Path]:
    """Write ``reports_dir/index.html`` (self-contained), ``reports_dir/tables.tex`` and
    ``reports_dir/tables.md`` (GitHub Markdown), each with the overview first.

    ``compare``: a reference key (``"lucic2018"``) to put published values beside ours
    where comparable; where not, the report says why.  ``real_data``: give every image table
    its "real data" row (:mod:`bench.metrics.floor`; computed from ``data_root`` at the runs'
    evaluation settings, cached under ``cache_dir``). Returns ``{"html": ..., "latex": ...,
    "markdown": ...}``.
    """
    results_dir = Path(results_dir)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    runs, curves, suite = load_results(results_dir, from_records=from_records)
    budget = load_budget(results_dir)  # None for results made before budgets were recorded
    bcells = budget_cells(budget)

    metrics = agg.available_metrics(runs)
    tables = [agg.aggregate(runs, m, n_boot=n_boot, exclude_collapsed=exclude_collapsed) for m in metrics]
    cost = agg.cost_table(runs, tables[0].axes if tables else None) if len(runs) else pd.DataFrame()
    if real_data and tables:
        attach_floors(tables, real_data_floors(runs, data_root=data_root, cache_dir=cache_dir, device=device))
    overview = build_overview(tables, runs, n_boot=n_boot)
    shared_selection = overview.selection if overview is not None else None

    comparison = None
    comparisons: dict[str, agg.Comparison] = {}  # metric id -> our table beside the reference
    compare_note = ""
    if compare:
        from bench import references

        ref = references.load(compare)
        for t in tables:
            if t.metric.key in ref.metric_keys:
                ct = t
                if ref.selection == "final" and t.which != "final" and t.metric.col("final") in runs.columns:
                    # the paper compares final-checkpoint scores: so do we
                    ct = agg.aggregate(runs, t.metric, which="final", n_boot=n_boot,
                                       exclude_collapsed=exclude_collapsed)
                comparisons[t.metric.id] = agg.compare_reference(ct, ref, runs)
        if comparisons:
            # the note at the top: the reference's headline metric, else its first metric we have
            comparison = next((c for k, c in comparisons.items() if agg.get_metric(k).key == ref.metric),
                              next(iter(comparisons.values())))
        else:
            labels = " / ".join(ref.metrics[k]["label"] for k in ref.metric_keys) if ref.metrics else ref.metric_label
            comparison = agg.Comparison(ref, False, f"these results contain no {labels} scores.", pd.DataFrame())
        compare_note = comparison_caption(comparison)
        if not comparison.comparable:
            log.warning("%s", compare_note)

    # representative run per cell: closest to the cell median of the dataset's first metric
    primary_by_ds: dict[str, agg.Table] = {}
    for t in tables:
        for ds, g in t.cells.groupby("dataset"):
            if ds not in primary_by_ds and (g["n"] > 0).any():
                primary_by_ds[ds] = t
    reps: dict[tuple[str, str], str] = {}
    for ds, t in primary_by_ds.items():
        for key, rid in agg.representative_runs(t).items():
            d = dict(zip(t.axes, key))
            if d["dataset"] == ds:
                reps.setdefault((ds, d["loss"]), rid)
    # cells with no scored run: show the first run so its failure is visible
    for (ds, loss), g in runs.groupby(["dataset", "loss"], sort=True):
        if (ds, loss) not in reps:
            reps[(ds, loss)] = str(g.sort_values("seed")["run_id"].iloc[0]) if "seed" in g else str(g["run_id"].iloc[0])

    datasets = sorted(runs["dataset"].dropna().unique(), key=agg.dataset_rank) if len(runs) else []
    sections = []
    for ds in datasets:
        t = primary_by_ds.get(ds)
        sec = {"dataset": agg.dataset_label(ds), "anchor": f"ds-{ds}", "metric": t.metric.label if t else None}
        # distribution
        if t is not None:
            sel = t.cells[t.cells["dataset"] == ds]
            scores = pd.DataFrame([{"loss": r["loss"], "value": v} for _, r in sel.iterrows() for v in r["values"]])
            sec["distribution"] = _data_uri(figures.score_distribution(scores, t.metric, ds))
        else:
            sec["distribution"] = None
        sec["budget"] = budget_section(budget, bcells, runs, ds, suite, t.metric if t else None, n_boot)
        sec["budget"]["img"] = _data_uri(sec["budget"]["img"])
        sec["rankings"] = _rankings(t, ds) if t is not None else []
        losses = [loss for (d, loss) in reps if d == ds]
        by_loss = {loss: reps[(ds, loss)] for loss in losses}
        sec["curves"] = _data_uri(figures.training_curves(curves, by_loss, ds, t.metric if t else None)) if len(curves) else None
        samples = []
        is_2d = figures.true_modes(ds) is not None
        for loss in agg.order_losses(losses):
            rid = by_loss[loss]
            r = _status_of(runs, rid)
            sdir = results_dir / "runs" / rid / "samples"
            item = {
                "loss": agg.loss_label(loss),
                "run_id": rid,
                "seed": _fmt_num(r.get("seed")),
                "status": str(r.get("status")),
                "reason": "" if pd.isna(r.get("reason")) else str(r.get("reason")),
                "grid": _file_uri(sdir / "final.png"),
                "interp": _file_uri(sdir / "interpolation.png"),
                "modes": None,
            }
            item["thumb"] = item["grid"]
            if is_2d:
                item["thumb"] = None
                pts = sdir / "points_final.npy"
                if pts.exists():
                    try:
                        arr = np.load(pts)
                        item["modes"] = _data_uri(figures.mode_coverage(arr, ds, f"{agg.loss_label(loss)} (seed {item['seed']})"))
                        item["thumb"] = _data_uri(figures.mode_thumbnail(arr, ds))
                    except (OSError, ValueError) as exc:
                        item["reason"] = (item["reason"] + "; " if item["reason"] else "") + f"points unreadable: {exc}"
            samples.append(item)
        sec["samples"] = samples
        sec["is_2d"] = is_2d
        sections.append(sec)

    cost_rows = []
    for _, r in cost.iterrows():
        cost_rows.append({
            "dataset": agg.dataset_label(r["dataset"]), "loss": agg.loss_label(r["loss"]), "runs": int(r["runs"]),
            "sps": "—" if math.isnan(r["steps_per_s_mean"]) else f"{r['steps_per_s_mean']:.1f}" + ("" if math.isnan(r["steps_per_s_std"]) else f" ± {r['steps_per_s_std']:.1f}"),
            "wall": "—" if math.isnan(r["wall_s_mean"]) else f"{r['wall_s_mean'] / 60:.1f}" + ("" if math.isnan(r["wall_s_std"]) else f" ± {r['wall_s_std'] / 60:.1f}"),
            "dh": f"{r['device_hours']:.3f}", "device": r["device"] or "—",
        })

    medians = "; ".join(f"{s['metric']} on {s['dataset']}" for s in sections if s["metric"])
    gallery_caption = "" if not sections else (
        "One run per objective: the representative seed (score closest to the cell median"
        + (f" of {medians}" if medians else "") + "), the generator at the end of training."
        + (" 2-D data: generated points over the true modes (red crosses; circles of 3 std)." if any(
            s["is_2d"] for s in sections) else "")
        + " Larger" + (", with interpolations" if not all(s["is_2d"] for s in sections) else "")
        + ": each dataset's section.")

    primary = tables[0].metric if tables else None
    header, run_rows = _runs_rows(runs, primary, tables[0].which if tables else "best")
    prov = _provenance(runs, suite, results_dir)
    suite_name = dict(prov)["Suite"]
    status_counts = runs["status"].value_counts() if "status" in runs else pd.Series(dtype=int)
    summary_line = f"{len(runs)} run{'s' if len(runs) != 1 else ''}" + (
        " (" + ", ".join(f"{v} {k}" for k, v in status_counts.items()) + ")" if len(status_counts) else "") + (
        f" · {pending_note}" if pending_note else "")

    env = Environment(loader=PackageLoader("bench.report", "templates"), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(
        title=f"ganbench report: {suite_name}",
        suite_name=suite_name,
        tables=[_table_context(t, comparisons.get(t.metric.id), shared_selection) for t in tables],
        overview=_overview_context(overview),
        summary_line=summary_line,
        gallery_caption=gallery_caption,
        generated=dict(prov)["Report generated"],
        compare=compare,
        compare_note=compare_note,
        comparison_ok=bool(comparison is not None and comparison.comparable),
        reference=comparison.reference if comparison is not None else None,
        cost_rows=cost_rows,
        sections=sections,
        budget_note=summary_sentence(budget, bcells) if len(runs) else "",
        runs_header=header,
        runs_rows=run_rows,
        status_idx=header.index("status") if "status" in header else -1,
        provenance=prov,
    )
    html_path = reports_dir / "index.html"
    html_path.write_text(html, encoding="utf-8")
    origin = f"ganbench tables for suite {suite_name}, from {results_dir}"
    tex_path = latex.write_tables(reports_dir / "tables.tex", tables, cost,
                                  list(comparisons.values()) if comparisons else comparison, budget=(budget, bcells),
                                  header=origin, overview=overview)
    md_path = markdown.write_markdown(reports_dir / "tables.md", tables, overview,
                                      title=f"ganbench tables: {suite_name}", header=origin)
    return {"html": html_path, "latex": tex_path, "markdown": md_path}


def main_report(suite_results_dir: Path, reports_root: Path, compare: str | None = None) -> Path:
    """CLI entry: write the report of ``results/<suite>`` into ``reports_root/<suite>``;
    returns the path of ``index.html``."""
    suite_results_dir = Path(suite_results_dir)
    paths = write_report(suite_results_dir, Path(reports_root) / suite_results_dir.name, compare=compare)
    return paths["html"]
