"""The report's overview: one survey-style table, objectives as rows and, per dataset, its
headline metrics as columns (image data: FID, precision and recall or else IS; 2-D mixtures:
modes covered, high-quality share, mode KL).

Nothing here computes a statistic: every cell, mark and count is read from the per-metric
:class:`bench.aggregate.Table` (mean ± std over seeds, ``best``, ``tied_with_best`` -- the
report's one rule of significance -- ``testable``, and the counts of left-out runs). A cell whose
runs are not the usual number, or lost some (diverged, failed, no score) or hold a collapsed run,
gets a footnote marker; a column with too few seeds for any conclusion gets a dagger.

:func:`build_overview` gives an :class:`Overview`; the HTML template, :func:`bench.report.latex.
overview_to_latex` and :func:`bench.report.markdown.overview_to_markdown` render it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from string import ascii_lowercase

import numpy as np
import pandas as pd

from bench import aggregate as agg
from bench.aggregate import MIN_SEEDS, Table
from bench.report.captions import extractor_names, selection_text

__all__ = ["Overview", "OverviewColumn", "OverviewCell", "build_overview", "IMAGE_HEADLINE", "MIXTURE_HEADLINE",
           "DAGGER", "SHORT_LABELS"]

# headline metrics (metric ids), in column order. Image data: FID, then precision and recall where
# both were computed, else IS; 2-D mixtures: all three mode metrics present.
IMAGE_HEADLINE = ("fid", ("precision", "recall"), "is")
MIXTURE_HEADLINE = ("modes_covered", "high_quality_fraction", "mode_kl")
SHORT_LABELS = {"modes_covered": "Modes", "high_quality_fraction": "High-quality"}
DAGGER = "†"


@dataclass
class OverviewCell:
    text: str  # "7.0 ± 1.0"; "—": runs but no score; "": not run
    best: bool = False
    tied: bool = False  # underlined: not distinguishable from the best (and not the best)
    marker: str = ""  # footnote marker ("a", "b", ...) or ""
    n: int = 0
    n_total: int = 0
    row: object = None  # the Table's cell (a pandas row) or None


@dataclass
class OverviewColumn:
    group: str  # the Table's column label: "MNIST", "Ring-8 / m=2"
    dataset: str
    table: Table
    untestable: bool  # too few seeds for any conclusion: only the best mean is marked

    @property
    def metric(self):
        return self.table.metric

    @property
    def label(self) -> str:
        return SHORT_LABELS.get(self.metric.id, self.metric.label)

    @property
    def header(self) -> str:
        """Metric label and direction arrow, e.g. ``FID ↓``."""
        return f"{self.label} {self.metric.arrow}"


@dataclass
class Overview:
    columns: list[OverviewColumn]
    losses: list[str]
    cells: dict  # (loss, column index) -> OverviewCell
    seeds: int  # the usual number of runs per cell (cells with another number are marked)
    footnotes: list[tuple[str, str]]  # (marker, text), the dagger last
    floor: list[str] | None = None  # the "real data" row, one text per column; None: no such row
    selection: str = ""  # checkpoint selection, said once
    extractors: list[tuple[str, list[str]]] = field(default_factory=list)  # (extractor text, dataset labels)
    n_boot: int = 2000
    confidence: float = 0.95
    exclude_collapsed: bool = False

    @property
    def groups(self) -> list[tuple[str, str, int]]:
        """(column label, dataset, number of metric columns), in order."""
        out: list[list] = []
        for c in self.columns:
            if out and out[-1][0] == c.group:
                out[-1][2] += 1
            else:
                out.append([c.group, c.dataset, 1])
        return [tuple(g) for g in out]

    def rows(self) -> list[tuple[str, list[OverviewCell]]]:
        return [(loss, [self.cells.get((loss, i), OverviewCell("")) for i in range(len(self.columns))])
                for loss in self.losses]

    @property
    def any_untestable(self) -> bool:
        return any(c.untestable for c in self.columns)

    # ---- text said once: the shared caption and the statistics note
    def caption(self, rule: str = "see Statistics") -> str:
        """The shared caption: conventions said once. ``rule``: how the underline is explained
        (the HTML points to its collapsible note; LaTeX and Markdown say it in full)."""
        conf = int(round(self.confidence * 100))
        rule = rule or f"its {conf}% bootstrap rank interval over seeds reaches rank 1"
        lettered = any(m != DAGGER for m, _ in self.footnotes)
        parts = [
            f"Headline metrics per dataset, objectives as rows: mean ± std over seeds, {self.seeds} "
            f"run{'s' if self.seeds != 1 else ''} per cell"
            + (" unless marked (a, b, …: runs diverged, failed, without a score or collapsed, or another number "
               "of runs; see the notes)." if lettered else "."),
            "↓: lower is better; ↑: higher is better.",
            f"Bold: best mean per column; underlined: not distinguishable from the best ({rule})"
            + (f"; {DAGGER}: too few seeds for any conclusion, only the best mean is marked." if self.any_untestable
               else "."),
        ]
        if self.selection:
            parts.append(f"Checkpoint: {self.selection}.")
        if self.extractors:
            parts.append("Extractor: " + "; ".join(f"{e} for {', '.join(ds)}" for e, ds in self.extractors) + ".")
        if self.floor is not None:
            parts.append("Real data: real training images scored in place of generated ones (a floor; no part in "
                         "marks or ranks).")
        return " ".join(parts)

    def statistics(self) -> str:
        """The statistics behind the marks, for a collapsible note (said once for every table)."""
        conf = int(round(self.confidence * 100))
        lo, hi = (100 - conf) / 2, 100 - (100 - conf) / 2
        collapsed = "left out and counted" if self.exclude_collapsed else "kept and flagged"
        return (
            f"Every cell is the mean and the sample standard deviation (n − 1) of the per-seed scores of the runs "
            f"that finished with a score. Diverged and failed runs have no score: they are left out of mean and std "
            f"and counted (the notes of a cell; the detailed tables and the runs table list them). Collapsed runs "
            f"are {collapsed}. The report's one rule of significance: within a column, seeds are resampled "
            f"with replacement within each objective and the objectives ranked by their resampled means "
            f"({self.n_boot:,} seeded draws; ties share the better rank); an objective's {conf}% rank interval is "
            f"the {lo:g}–{hi:g}% range of its ranks. Bold marks the best mean; underlined cells are not "
            f"distinguishable from the best: their rank interval reaches rank 1. With fewer than {MIN_SEEDS} scored "
            f"seeds for any objective of a column ({DAGGER}), nothing but the best mean is marked: there are too "
            f"few seeds for any conclusion. Each dataset's section gives the ranking (rank, interval, P(rank 1)) "
            f"and the pairwise win probabilities: P(a seed of one objective scores better than a seed of another), "
            f"exact over all seed pairs, ties counting ½. Every table of the report, tables.tex and tables.md use "
            f"the same marks.")


def _measured(t: Table, column: str) -> bool:
    c = t.cells[t.cells["column"] == column]
    return bool(len(c)) and bool((c["n"] > 0).any() or (c["n_total"] > 0).any())


def _headline(by_id: dict[str, Table], column: str) -> list[Table]:
    """The headline tables of one table column, in column order."""
    have = {k: t for k, t in by_id.items() if _measured(t, column)}
    if not have:
        return []
    if any(k in have for k in MIXTURE_HEADLINE):  # a 2-D mixture column: its mode metrics were measured
        picked = [have[k] for k in MIXTURE_HEADLINE if k in have]
    else:
        first, pair, alt = IMAGE_HEADLINE
        picked = [have[first]] if first in have else []
        if all(k in have for k in pair):
            picked += [have[k] for k in pair]
        elif alt in have:
            picked.append(have[alt])
    # a dataset none of whose metrics is a headline one still shows its first table
    return picked or [next(iter(have.values()))]


def _note(r, seeds: int) -> str:
    """The footnote of one cell, '' where it needs none."""
    n, total = int(r["n"]), int(r.get("n_total", r["n"]))
    parts = []
    for key, word in (("n_diverged", "diverged"), ("n_failed", "failed"), ("n_missing", "without a score"),
                      ("n_collapsed_excluded", "collapsed (excluded)")):
        k = int(r.get(key, 0) or 0)
        if k:
            parts.append(f"{k} {word}")
    kept = int(r.get("n_collapsed", 0) or 0) - int(r.get("n_collapsed_excluded", 0) or 0)
    if kept > 0:
        parts.append(f"{kept} collapsed (kept)")
    if not parts and total == seeds:
        return ""
    head = f"{total} run{'s' if total != 1 else ''}, all scored" if n == total else f"{n} of {total} runs scored"
    return head + (": " + ", ".join(parts) if parts else "")


def _markers():
    k = 1
    while True:
        for i in range(len(ascii_lowercase) ** k):
            s, j = "", i
            for _ in range(k):
                s = ascii_lowercase[j % 26] + s
                j //= 26
            yield s
        k += 1


def _extractors(columns: list[OverviewColumn], runs: pd.DataFrame | None) -> list[tuple[str, list[str]]]:
    """(extractor text, dataset labels) in column order: the extractors of the runs scored in
    each column's dataset (the tables' own extractors where the runs do not say)."""
    by_ds: dict[str, list[str]] = {}
    for c in columns:
        names: list[str] = []
        if runs is not None and "eval.extractor" in runs.columns and "dataset" in runs.columns:
            col = c.metric.col(c.table.which)
            mine = runs[runs["dataset"] == c.dataset]
            if col in mine.columns:
                scored = np.isfinite(pd.to_numeric(mine[col], errors="coerce").astype(float))
                names = sorted(set(mine.loc[scored, "eval.extractor"].dropna().astype(str)))
        names = names or list(c.table.extractors)
        for e in names:
            by_ds.setdefault(c.group, [])
            if e not in by_ds[c.group]:
                by_ds[c.group].append(e)
    out: dict[str, list[str]] = {}
    for group, names in by_ds.items():
        out.setdefault(extractor_names(names), []).append(group)
    return list(out.items())


def build_overview(tables: list[Table], runs: pd.DataFrame | None = None, *, n_boot: int = 2000) -> Overview | None:
    """The overview of a report's per-metric ``tables`` (None where no table has a cell).
    ``runs`` (the results table) names the extractor of each dataset; ``n_boot``: the draws the
    tables' rank intervals were made with (for the statistics note)."""
    by_id = {t.metric.id: t for t in tables if len(t.cells)}
    if not by_id:
        return None
    # the table columns in the report's order: datasets by registry, then the other axes
    order: dict[str, tuple] = {}
    ds_of: dict[str, str] = {}
    for t in by_id.values():
        for _, r in t.cells.iterrows():
            order.setdefault(r["column"], r["_col_order"] if "_col_order" in r else (0,))
            ds_of.setdefault(r["column"], r["dataset"] if "dataset" in r else r["column"])
    columns: list[OverviewColumn] = []
    for col in sorted(order, key=lambda c: order[c]):
        for t in _headline(by_id, col):
            mine = t.cells[t.cells["column"] == col]
            untestable = bool(len(mine)) and "testable" in mine and not mine["testable"].astype(bool).all()
            columns.append(OverviewColumn(col, ds_of[col], t, untestable))
    losses = agg.order_losses({loss for c in columns for loss in c.table.cells["loss"]})
    found: dict[tuple, object] = {}
    for i, c in enumerate(columns):
        for _, r in c.table.cells[c.table.cells["column"] == c.group].iterrows():
            found[(r["loss"], i)] = r
    totals = [int(r.get("n_total", r["n"])) for r in found.values()]
    counts = Counter(totals)
    seeds = max(counts, key=lambda k: (counts[k], k)) if counts else 0
    cells, notes, markers = {}, {}, _markers()
    for loss, i in sorted(found, key=lambda k: (losses.index(k[0]), k[1])):  # markers in reading order
        r = found[(loss, i)]
        t = columns[i].table
        note = _note(r, seeds)
        if note and note not in notes:
            notes[note] = next(markers)
        cells[(loss, i)] = OverviewCell(
            text=t.cell_text(r), best=bool(r["best"]), tied=bool(r["tied_with_best"]) and not bool(r["best"]),
            marker=notes.get(note, "") if note else "", n=int(r["n"]), n_total=int(r.get("n_total", r["n"])), row=r)
    footnotes = [(m, text) for text, m in notes.items()]
    if any(c.untestable for c in columns):
        footnotes.append((DAGGER, f"Too few seeds for any conclusion: fewer than {MIN_SEEDS} scored seeds for some "
                                  f"objective of the column; only the best mean is marked. Run more seeds."))
    floor = None
    if any(c.table.floor.get(c.group, (None, ""))[0] is not None for c in columns):
        floor = []
        for c in columns:
            v = c.table.floor.get(c.group, (None, ""))[0]
            floor.append(c.metric.format(v) if v is not None else ("—" if c.group in c.table.floor else ""))
    selections = list(dict.fromkeys(s for s in (selection_text(c.table) for c in columns) if s))
    return Overview(columns, losses, cells, seeds, footnotes, floor, "; ".join(selections),
                    _extractors(columns, runs), n_boot, columns[0].table.confidence,
                    any(c.table.exclude_collapsed for c in columns))
