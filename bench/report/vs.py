"""``ganbench report SUITE --vs OTHER``: two suites' results compared cell by cell (the same suite
on two machines, or before and after a change). For every metric both have and every (objective,
dataset) cell: both means ± std, the difference A − B, its 95% percentile-bootstrap interval
(seeds resampled within each suite; seeded, deterministic) and whether the interval excludes 0.
With fewer than ``MIN_SEEDS`` scored seeds on a side nothing is marked. Results of different
training-semantics versions are flagged, and then no difference is called significant."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench import aggregate as agg
from bench.aggregate.statistics import MIN_SEEDS, stable_seed

__all__ = ["compare_suites", "write_vs"]


def _versions(runs: pd.DataFrame) -> list[str]:
    col = "param.semantics_version"
    return sorted(set(runs[col].dropna().astype(int).astype(str))) if col in runs else []


def _diff_interval(a, b, n_boot: int, key) -> tuple[float, float]:
    rng = np.random.default_rng(stable_seed(0, key))
    da = np.asarray(a, float)[rng.integers(0, len(a), size=(n_boot, len(a)))].mean(1)
    db = np.asarray(b, float)[rng.integers(0, len(b), size=(n_boot, len(b)))].mean(1)
    lo, hi = np.percentile(da - db, [2.5, 97.5])
    return float(lo), float(hi)


def compare_suites(runs_a: pd.DataFrame, runs_b: pd.DataFrame, n_boot: int = 2000) -> tuple[pd.DataFrame, str]:
    """(cells, note): one row per metric × objective × column present in both."""
    va, vb = _versions(runs_a), _versions(runs_b)
    mixed = va != vb
    note = (f"Different training semantics: A has version {', '.join(va) or '?'}, B {', '.join(vb) or '?'}; "
            f"their runs compute different things, so no difference is marked significant." if mixed else "")
    rows = []
    common = [m for m in agg.available_metrics(runs_a) if m.key in {x.key for x in agg.available_metrics(runs_b)}]
    for m in common:
        ta, tb = agg.aggregate(runs_a, m, n_boot=200), agg.aggregate(runs_b, m, n_boot=200)
        ca = ta.cells.set_index(["loss", "column"])
        cb = tb.cells.set_index(["loss", "column"])
        for key in ca.index.intersection(cb.index):
            a, b = ca.loc[key], cb.loc[key]
            xa = [v for v in (a["values"] or []) if np.isfinite(v)]
            xb = [v for v in (b["values"] or []) if np.isfinite(v)]
            row = {"metric": m.label, "metric_key": m.key, "loss": key[0], "column": key[1],
                   "a": ta.cell_text(a), "b": tb.cell_text(b), "n_a": len(xa), "n_b": len(xb),
                   "diff": (np.mean(xa) - np.mean(xb)) if xa and xb else np.nan,
                   "lo": np.nan, "hi": np.nan, "verdict": ""}
            if len(xa) >= MIN_SEEDS and len(xb) >= MIN_SEEDS:
                row["lo"], row["hi"] = _diff_interval(xa, xb, n_boot, (m.key, *key))
                if mixed:
                    row["verdict"] = "not comparable (semantics)"
                elif row["lo"] > 0 or row["hi"] < 0:
                    better = (row["diff"] < 0) == m.lower_is_better
                    row["verdict"] = "A better" if better else "B better"
                else:
                    row["verdict"] = "no difference shown"
            else:
                row["verdict"] = f"too few seeds (< {MIN_SEEDS})"
            rows.append(row)
    return pd.DataFrame(rows), note


def _fmt(x) -> str:
    return "—" if not np.isfinite(x) else f"{x:.4g}"


def write_vs(out_dir: Path, name_a: str, name_b: str, cells: pd.DataFrame, note: str) -> dict[str, Path]:
    """``vs-<B>.md`` and ``vs-<B>.html`` (self-contained) under ``out_dir``."""
    import html as h

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    head = ["metric", "objective", "column", f"A: {name_a}", f"B: {name_b}", "A − B", "95% interval", "verdict"]
    body = [[r["metric"], agg.loss_label(r["loss"]), str(r["column"]), r["a"], r["b"], _fmt(r["diff"]),
             f"[{_fmt(r['lo'])}, {_fmt(r['hi'])}]" if np.isfinite(r["lo"]) else "—", r["verdict"]]
            for _, r in cells.iterrows()]
    intro = (f"{name_a} (A) against {name_b} (B), cell by cell: means ± std over seeds, the difference of "
             f"means and its 95% bootstrap interval (seeds resampled within each suite). A difference is "
             f"called when the interval excludes 0 and both sides have at least {MIN_SEEDS} scored seeds.")
    md = [f"# {name_a} vs {name_b}", "", intro, ""] + ([f"**{note}**", ""] if note else [])
    md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    md_path = out_dir / f"vs-{name_b}.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    rows = "".join("<tr>" + "".join(f"<td>{h.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    page = (f"<!doctype html><meta charset='utf-8'><title>{h.escape(name_a)} vs {h.escape(name_b)}</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}"
            f"</style><h1>{h.escape(name_a)} vs {h.escape(name_b)}</h1><p>{h.escape(intro)}</p>"
            + (f"<p><strong>{h.escape(note)}</strong></p>" if note else "")
            + "<table><tr>" + "".join(f"<th>{h.escape(c)}</th>" for c in head) + "</tr>" + rows + "</table>")
    html_path = out_dir / f"vs-{name_b}.html"
    html_path.write_text(page, encoding="utf-8")
    return {"markdown": md_path, "html": html_path}
