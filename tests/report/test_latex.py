"""LaTeX tables: a golden test (expected text written by hand) and a pdflatex compile."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from bench import aggregate as agg
from bench.report import latex

FID = "metric.best.frechet_inception_distance"


def _runs() -> pd.DataFrame:
    rows = []

    def add(loss, ds, vals, status="done"):
        for v in vals:
            rows.append({"run_id": f"{loss}-{ds}-{len(rows)}", "loss": loss, "dataset": ds, "seed": len(rows),
                         "status": status, FID: v, "eval.extractor": "inception",
                         "eval.selection": "best-over-checkpoints", "search.phase": "grid",
                         "cost.wall_s": 1800.0, "cost.steps_per_s": 12.5, "cost.device": "NVIDIA H100"})

    add("ns", "mnist", [6.0, 7.0, 8.0])
    add("ns", "mnist", [None], status="diverged")
    add("wgan-gp", "mnist", [10.0, 12.0, 14.0])
    add("new_loss", "sub_50%", [3.5, 4.5])
    add("ns", "sub_50%", [5.0])
    return pd.DataFrame(rows)


# Written by hand: ns/MNIST 6, 7, 8 -> 7.0 ± 1.0 (best); wgan-gp 10, 12, 14 -> 12.0 ± 2.0, every
# resampled mean above every resampled mean of ns: bootstrap rank interval [2, 2] does not reach 1 ->
# not underlined; new_loss 3.5, 4.5 -> 4.0 ± 0.7 (std = sqrt(0.5)); ns/sub_50% a single seed -> 5.0:
# fewer than 3 seeds in the column, no conclusion, nothing marked but the best mean.
EXPECTED_FID = r"""\begin{table}[htbp]
\centering
\caption{FID (lower is better): mean $\pm$ sample std over seeds, best over checkpoints. Extractor: inception (InceptionV3 (2015-12-05, torch-fidelity)). Bold: best mean per column; underlined: not distinguishable from the best (its 95\% bootstrap rank interval over seeds reaches rank 1: seeds resampled within each objective, objectives ranked by their resampled means) -- the report's one rule of significance. Too few seeds for any conclusion in sub\_50\% (fewer than 3 scored seeds for some objective): only the best mean is marked; run more seeds. Selection: grid: all seeds of the configuration. Exclusions and flags: NS GAN / MNIST: 1/4 excluded: diverged.}
\label{tab:fid}
\begin{tabular}{lrr}
\toprule
 & MNIST & sub\_50\% \\
\midrule
NS GAN & \textbf{7.0 $\pm$ 1.0} & 5.0 \\
WGAN-GP & 12.0 $\pm$ 2.0 & -- \\
new\_loss & -- & \textbf{4.0 $\pm$ 0.7} \\
\bottomrule
\end{tabular}
\end{table}
"""

# 3 + 1 ns/MNIST runs of 1800 s = 2.00 device-hours; 30.0 min per run; no spread -> ± 0.0
EXPECTED_COST_FIRST_ROWS = r"""MNIST & NS GAN & 12.5 $\pm$ 0.0 & 30.0 $\pm$ 0.0 & 4 & 2.00 & NVIDIA H100 \\
MNIST & WGAN-GP & 12.5 $\pm$ 0.0 & 30.0 $\pm$ 0.0 & 3 & 1.50 & NVIDIA H100 \\
"""


def test_escape_latex():
    assert latex.escape_latex("wgan-gp_x 50% ± 1 & #2 $") == r"wgan-gp\_x 50\% $\pm$ 1 \& \#2 \$"
    assert latex.escape_latex("{a}~^\\") == r"\{a\}\textasciitilde{}\textasciicircum{}\textbackslash{}"


def test_golden_fid_table():
    t = agg.aggregate(_runs(), "fid", n_boot=200)
    assert latex.table_to_latex(t) == EXPECTED_FID


def test_cost_table_rows():
    tex = latex.cost_to_latex(agg.cost_table(_runs()))
    assert EXPECTED_COST_FIRST_ROWS in tex
    assert "\\multirow" not in tex and "\\toprule" in tex and "\\bottomrule" in tex


def test_comparison_table_and_refusal():
    runs = _runs()
    comp = agg.compare_reference(agg.aggregate(runs, "fid", n_boot=100), "lucic2018", runs)
    tex = latex.comparison_to_latex(comp)
    assert r"\multicolumn{3}{c}{MNIST}" in tex
    # ns: 7.0 vs 6.8 ± 0.5 -> within; wgan-gp: 12.0 vs 20.3 ± 5.0 -> within (|8.3| <= 10)
    assert r"NS GAN & 7.0 $\pm$ 1.0 & 6.8 $\pm$ 0.5 & yes \\" in tex
    assert r"WGAN GP & 12.0 $\pm$ 2.0 & 20.3 $\pm$ 5.0 & yes \\" in tex
    assert r"LSGAN & not run & 7.8 $\pm$ 0.6* & -- \\" in tex
    assert r"VAE & not run & 23.8 $\pm$ 0.6 & -- \\" in tex
    refused = runs.assign(**{"eval.extractor": "classifier"})
    comp = agg.compare_reference(agg.aggregate(refused, "fid", n_boot=100), "lucic2018", refused)
    tex = latex.comparison_to_latex(comp)
    assert tex.startswith("% No comparison with Lucic et al. 2018") and "\\begin{table}" not in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_tables_compile_with_pdflatex(tmp_path):
    runs = _runs()
    t = agg.aggregate(runs, "fid", n_boot=100)
    comp = agg.compare_reference(t, "lucic2018", runs)
    latex.write_tables(tmp_path / "tables.tex", [t], agg.cost_table(runs), comp, header="test_%_header")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{booktabs}\n\\begin{document}\n\\input{tables.tex}\n\\end{document}\n"
    )
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
