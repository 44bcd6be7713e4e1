"""GitHub Markdown tables (``reports/<suite>/tables.md``) for READMEs and issues: the overview
first (:mod:`bench.report.overview`), then one table per metric.

Marks as in the HTML report and ``tables.tex``: best mean per column in ``**bold**``, not
distinguishable from the best ``<ins>underlined</ins>``, footnote markers as ``<sup>a</sup>``;
the statistics in a collapsible ``<details>`` note.
"""
from __future__ import annotations

from pathlib import Path

from bench.aggregate import Table, loss_label
from bench.report.captions import table_caption

__all__ = ["md_escape", "markdown_table", "overview_to_markdown", "table_to_markdown", "tables_to_markdown",
           "write_markdown"]

_SPECIAL = {"\\": "\\\\", "|": "\\|", "*": "\\*", "_": "\\_", "`": "\\`", "<": "&lt;", ">": "&gt;"}


def md_escape(text) -> str:
    """Plain text for a Markdown table cell."""
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def markdown_table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A GitHub table; the first ``left`` columns left-aligned, the others right-aligned.
    Cells are written as given (escape them first)."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":--" if i < left else "--:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _marked(text: str, best: bool, tied: bool) -> str:
    t = md_escape(text)
    if not t:
        return t
    return f"**{t}**" if best else (f"<ins>{t}</ins>" if tied else t)


def _sup(marker: str) -> str:
    return f"<sup>{md_escape(marker)}</sup>" if marker else ""


def overview_to_markdown(ov) -> str:
    """The overview: one column per (dataset, headline metric), headed ``MNIST: FID ↓``."""
    from bench.report.floor import FLOOR_LABEL
    from bench.report.overview import DAGGER

    header = ["Objective"] + [md_escape(f"{c.group}: {c.header}") + (_sup(DAGGER) if c.untestable else "")
                              for c in ov.columns]
    rows = [[md_escape(loss_label(loss))] + [_marked(c.text, c.best, c.tied) + _sup(c.marker) for c in cells]
            for loss, cells in ov.rows()]
    if ov.floor is not None:
        rows.append([f"*{md_escape(FLOOR_LABEL)}*"] + [md_escape(v) for v in ov.floor])
    parts = [markdown_table(header, rows), md_escape(ov.caption(rule=""))]
    if ov.footnotes:
        parts.append("\n".join(f"- {_sup(m)} {md_escape(t)}" for m, t in ov.footnotes))
    parts.append(f"<details><summary>Statistics</summary>\n\n{md_escape(ov.statistics())}\n\n</details>")
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def table_to_markdown(t: Table, shared_selection: str | None = None) -> str:
    """One metric's table: objectives as rows, its columns (datasets, other axes) as columns."""
    from bench.report.floor import FLOOR_LABEL

    cols = t.column_order()
    cells = {(r["loss"], r["column"]): r for _, r in t.cells.iterrows()}
    rows = []
    for loss in t.loss_order():
        row = [md_escape(loss_label(loss))]
        for col in cols:
            r = cells.get((loss, col))
            row.append("" if r is None else _marked(t.cell_text(r), bool(r["best"]),
                                                    bool(r["tied_with_best"]) and not bool(r["best"])))
        rows.append(row)
    if t.floor:
        rows.append([f"*{md_escape(FLOOR_LABEL)}*"] + [
            md_escape(t.metric.format(t.floor[c][0])) if c in t.floor and t.floor[c][0] is not None
            else ("—" if c in t.floor else "") for c in cols])
    title = f"### {md_escape(t.metric.label)} {t.metric.arrow}"
    return (f"{title}\n\n" + markdown_table(["Objective"] + [md_escape(c) for c in cols], rows) + "\n"
            + md_escape(table_caption(t, short=True, shared_selection=shared_selection)) + "\n")


def tables_to_markdown(tables: list[Table], overview=None, title: str = "", header: str = "") -> str:
    parts = [f"# {md_escape(title)}" if title else ""]
    if header:
        parts.append("".join(f"<!-- {line.replace('--', '- -')} -->\n" for line in header.splitlines()))
    if overview is not None:
        parts.append("## Overview\n\n" + overview_to_markdown(overview))
    if tables:
        shared = overview.selection if overview is not None else None
        parts.append("## Tables by metric\n\n" + "\n".join(table_to_markdown(t, shared) for t in tables))
    if overview is None and not tables:
        parts.append("No run has a score: no table.")
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def write_markdown(path: Path, tables: list[Table], overview=None, title: str = "", header: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tables_to_markdown(tables, overview, title, header), encoding="utf-8")
    return path
