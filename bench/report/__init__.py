"""Reports: survey-style tables (HTML, LaTeX and Markdown) and figures from ``runs.parquet``.

Entry points: :func:`write_report` (one results directory -> ``index.html``, ``tables.tex`` and
``tables.md``, each with the overview of :mod:`bench.report.overview` first) and
:func:`main_report` (the CLI's ``ganbench report``).
"""

from bench.report.html import load_results, main_report, write_report

__all__ = ["load_results", "main_report", "write_report"]
