"""LaTeX tables (booktabs, via pandas ``Styler.to_latex``) ready for ``\\input``.

Requires ``\\usepackage{booktabs}`` in the including document; nothing else.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.aggregate import Comparison, Table, dataset_label, dataset_rank, loss_label
from bench.report.captions import comparison_caption, table_caption

__all__ = ["escape_latex", "table_to_latex", "overview_to_latex", "comparison_to_latex", "cost_to_latex",
           "budget_to_latex", "tables_to_latex"]

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "σ": r"$\sigma$",
    "α": r"$\alpha$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "–": "--",
    "—": "---",
    "≤": r"$\leq$",
    "×": r"$\times$",
    "’": "'",
    "†": r"\dag{}",
    "½": r"$\frac{1}{2}$",
    "−": "$-$",
    "…": r"\dots{}",
}


def escape_latex(text) -> str:
    """Escape plain text for LaTeX text mode; ``±`` becomes ``$\\pm$``."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return "--"
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _cell(text) -> str:
    # a lone em dash means "no value": render it as an en dash, the usual empty-cell mark
    if text is None or (isinstance(text, float) and math.isnan(text)) or text == "—":
        return "--"
    return escape_latex(text)


def _styled(df: pd.DataFrame, marks: pd.DataFrame | None, caption: str, label: str, column_format: str | None = None,
            sparse_index: bool = True) -> str:
    st = df.style.format(_cell).format_index(escape_latex, axis=0).format_index(escape_latex, axis=1)
    if marks is not None:
        st = st.apply(lambda _: marks, axis=None)
    st = st.hide(names=True, axis=0).hide(names=True, axis=1)
    nlev = df.index.nlevels
    return st.to_latex(
        hrules=True,
        caption=escape_latex(caption),
        label=label,
        position="htbp",
        position_float="centering",
        column_format=column_format or ("l" * nlev + "r" * df.shape[1]),
        multicol_align="c",
        sparse_index=sparse_index,
        clines=None,
    )


def table_to_latex(table: Table, label: str | None = None) -> str:
    """One survey-style table: objectives as rows, datasets as columns, ``mean ± std``,
    best per column in ``\\textbf``, not significantly different from best underlined."""
    text = table.wide("text")
    best = table.wide("best").fillna(False).astype(bool)
    tied = table.wide("tied_with_best").fillna(False).astype(bool)
    marks = pd.DataFrame("", index=text.index, columns=text.columns)
    marks[tied & ~best] = "underline:--rwrap;"
    marks[best] = "textbf:--rwrap;"
    text = text.fillna("—")
    text.index = [loss_label(i) for i in text.index]
    if table.floor:  # the "real data" row: real training images scored like a generator
        from bench.report.floor import FLOOR_LABEL

        row = [table.metric.format(table.floor[c][0]) if c in table.floor and table.floor[c][0] is not None
               else "—" for c in text.columns]
        text.loc[FLOOR_LABEL] = row
        marks.loc[FLOOR_LABEL] = ""
    marks.index = text.index
    text.columns.name = None
    marks.columns.name = None
    return _styled(text, marks, table_caption(table), label or f"tab:{table.metric.id}")


def _marker(m: str) -> str:
    return r"\textsuperscript{\dag}" if m == "†" else r"\textsuperscript{" + escape_latex(m) + "}"


def overview_to_latex(ov, label: str = "tab:overview") -> str:
    """The overview (:class:`bench.report.overview.Overview`) in the style of Lucic et al. 2018,
    Table 2: booktabs rules, one ``\\multicolumn`` header per dataset over its headline metrics,
    objectives as rows, ``mean ± std``; best per column in ``\\textbf``, not distinguishable from
    the best underlined; footnote markers for cells with left-out runs, a dagger on columns with
    too few seeds; the notes below the tabular."""
    groups = ov.groups
    ncol = len(ov.columns)
    lines = [r"\begin{table}[htbp]", r"\centering", r"\caption{" + escape_latex(ov.caption(rule="")) + "}",
             r"\label{" + label + "}", r"\begin{tabular}{l" + "r" * ncol + "}", r"\toprule"]
    lines.append(" & " + " & ".join(r"\multicolumn{" + str(k) + "}{c}{" + escape_latex(g) + "}" for g, _, k in groups)
                 + r" \\")
    rules, start = [], 2
    for _, _, k in groups:
        rules.append(r"\cmidrule(lr){" + f"{start}-{start + k - 1}" + "}")
        start += k
    lines.append(" ".join(rules))
    lines.append("Objective & " + " & ".join(escape_latex(c.header) + (_marker("†") if c.untestable else "")
                                            for c in ov.columns) + r" \\")
    lines.append(r"\midrule")
    for loss, cells in ov.rows():
        out = []
        for c in cells:
            text = "--" if c.text in ("", "—") else escape_latex(c.text)
            if c.best:
                text = r"\textbf{" + text + "}"
            elif c.tied:
                text = r"\underline{" + text + "}"
            out.append(text + (_marker(c.marker) if c.marker else ""))
        lines.append(escape_latex(loss_label(loss)) + " & " + " & ".join(out) + r" \\")
    if ov.floor is not None:
        from bench.report.floor import FLOOR_LABEL

        lines.append(r"\midrule")
        lines.append(escape_latex(FLOOR_LABEL) + " & " + " & ".join("--" if v in ("", "—") else escape_latex(v)
                                                                     for v in ov.floor) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if ov.footnotes:
        lines.append(r"\par\smallskip\footnotesize")
        lines.append(r"\\".join(_marker(m) + " " + escape_latex(t) for m, t in ov.footnotes))
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def comparison_to_latex(comp: Comparison, label: str = "tab:compare") -> str:
    """Ours beside a published reference; a commented note when not comparable."""
    if not comp.comparable:
        return "% " + escape_latex(comparison_caption(comp)).replace("\n", " ") + "\n"
    c = comp.cells
    ref = comp.reference
    datasets = [d for d in ref.datasets if d in set(c["dataset"])]
    rows = list(dict.fromkeys(c["row_label"]))
    inside = f"in 2{ref.spread_short}"
    cols = pd.MultiIndex.from_tuples(
        [(dataset_label(d), part) for d in datasets for part in ("ours", ref.short, inside)]
    )
    fmt = (lambda v: f"{v:.1f}")
    if comp.metric_key and ref.key != "lucic2018":
        from bench.metrics.catalogue import metric as _metric

        fmt = _metric(comp.metric_key).format
    out = pd.DataFrame("—", index=rows, columns=cols)
    for _, r in c.iterrows():
        d = dataset_label(r["dataset"])
        if r["n"] and not math.isnan(r["ours_mean"]):
            ours = fmt(r["ours_mean"]) + (f" ± {fmt(r['ours_std'])}" if not math.isnan(r["ours_std"]) else "")
        else:
            ours = r["status"] if r["status"] == "not run" else "—"
        out.loc[r["row_label"], (d, "ours")] = ours
        if not math.isnan(r["pub_mean"]):
            pub = f"{fmt(r['pub_mean'])} ± {fmt(r['pub_std'])}" + ("*" if r["outliers_excluded"] else "")
            out.loc[r["row_label"], (d, ref.short)] = pub
        if r["within"] is not None and not (isinstance(r["within"], float) and math.isnan(r["within"])):
            out.loc[r["row_label"], (d, inside)] = "yes" if r["within"] else "no"
    return _styled(out, None, comparison_caption(comp), label)


def cost_to_latex(cost: pd.DataFrame, label: str = "tab:cost") -> str:
    """Cost per cell: steps/s and wall time per run (mean ± std), runs, device-hours."""

    def pm(m, s, fmt):
        if m is None or math.isnan(m):
            return "—"
        return fmt.format(m) + ("" if s is None or math.isnan(s) else " ± " + fmt.format(s))

    rows = []
    for _, r in cost.iterrows():
        rows.append(
            {
                "Dataset": dataset_label(r["dataset"]),
                "Objective": loss_label(r["loss"]),
                "Steps/s": pm(r["steps_per_s_mean"], r["steps_per_s_std"], "{:.1f}"),
                "Wall time per run (min)": pm(r["wall_s_mean"] / 60.0, r["wall_s_std"] / 60.0, "{:.1f}"),
                "Runs": str(int(r["runs"])),
                "Device-hours": f"{r['device_hours']:.2f}",
                "Device": r["device"] or "—",
            }
        )
    df = pd.DataFrame(rows).set_index(["Dataset", "Objective"]) if rows else pd.DataFrame()
    cap = (
        "Cost per cell over all its runs (search included): steps/s and wall time per run "
        "(mean ± sample std over runs), number of runs, device-hours (sum of wall time)."
    )
    # no sparse index: \multirow would need the multirow package
    return _styled(df, None, cap, label, column_format="ll" + "r" * 4 + "l", sparse_index=False)


def budget_to_latex(budget: dict | None, cells: pd.DataFrame, label: str = "tab:budget") -> str:
    """Tuning budget per cell (``budget.json``): configurations tried, finished runs, D steps trained
    and planned, wall time; the caption says whether the objectives' budgets are equal. A commented
    note where the results have no budget record."""
    from bench.report.budget import WALL_NOTE, budget_rows, equality_sentence, summary_sentence

    if cells.empty:
        return "% " + escape_latex(summary_sentence(budget, cells)) + "\n"
    rows = []
    datasets = sorted(set(cells["dataset"]), key=dataset_rank)
    for ds in datasets:
        for r in budget_rows(cells[cells["dataset"] == ds]):
            rows.append({"Dataset": dataset_label(ds), "Objective": r["loss"], "Other axes": r["axes"] or "—",
                         "Configurations": r["configurations"], "Runs": r["runs"], "D steps": r["d_steps"],
                         "D steps planned": r["d_steps_planned"], "Wall time": r["wall"]})
    df = pd.DataFrame(rows)
    if (df["Other axes"] == "—").all():
        df = df.drop(columns="Other axes")
    keys = [k for k in ("Dataset", "Objective", "Other axes") if k in df]
    df = df.set_index(keys)
    cap = " ".join([equality_sentence(budget, cells[cells["dataset"] == d], d, wall_note=False) for d in datasets])
    cap += (" Configurations: searched (the final phase retrains one of them); runs: finished; D steps and wall time:"
            " summed over every run of the cell, all phases. " + WALL_NOTE)
    return _styled(df, None, cap, label, column_format="l" * len(keys) + "r" * df.shape[1], sparse_index=False)


def tables_to_latex(tables: list[Table], cost: pd.DataFrame | None = None, comparison: Comparison | None = None,
                    header: str = "", budget: tuple | None = None, overview=None) -> str:
    parts = []
    if header:
        parts.append("".join(f"% {line}\n" for line in header.splitlines()))
    parts.append("% Requires \\usepackage{booktabs}.\n")
    if overview is not None:  # the survey-style overview first (bench.report.overview)
        parts.append(overview_to_latex(overview))
    for t in tables:
        parts.append(table_to_latex(t))
    comps = [c for c in (comparison if isinstance(comparison, (list, tuple)) else [comparison]) if c is not None]
    for i, comp in enumerate(comps):
        parts.append(comparison_to_latex(comp, label="tab:compare" if i == 0 else f"tab:compare-{comp.metric_key}"))
    if budget is not None:  # (budget.json as loaded, its cells: bench.report.budget)
        parts.append(budget_to_latex(*budget))
    if cost is not None and not cost.empty:
        parts.append(cost_to_latex(cost))
    return "\n".join(parts)


def write_tables(path: Path, tables: list[Table], cost=None, comparison=None, header: str = "",
                 budget: tuple | None = None, overview=None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tables_to_latex(tables, cost, comparison, header, budget, overview), encoding="utf-8")
    return path
