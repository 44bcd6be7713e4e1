"""The report's first screen: the survey-style overview (HTML, LaTeX, Markdown), checked against
values computed by hand from constructed runs; the sample gallery; the layout in headless Chromium."""
from __future__ import annotations

import html as html_lib
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest_report import _png, base_row
from test_report_html import CHROMIUM, chromium_driver

from bench.report import write_report

FID, IS = "metric.best.frechet_inception_distance", "metric.best.inception_score_mean"
P, R = "metric.best.precision", "metric.best.recall"
MODES, HQ, KL = "metric.best.modes_covered", "metric.best.high_quality_fraction", "metric.best.mode_kl"

# loss -> per seed (FID, precision, recall); None: the run diverged
MNIST = {
    "ns": [(10.0, 0.70, 0.50), (11.0, 0.71, 0.52), (12.0, 0.72, 0.54)],
    "lsgan": [(10.0, 0.60, 0.55), (12.0, 0.62, 0.56), (14.0, 0.64, 0.57)],
    "wgan": [(20.0, 0.80, 0.30), (21.0, 0.82, 0.31), (22.0, 0.84, 0.32), None],
}
# loss -> per seed (modes covered, high-quality share, mode KL); None: the run failed
RING = {
    "ns": [(8.0, 0.90, 0.0), (8.0, 0.80, 0.1), None],
    "lsgan": [(6.0, 0.70, 0.3), (7.0, 0.80, 0.2), (8.0, 0.90, 0.1)],
    "wgan": [(7.0, 0.95, 0.1), (7.0, 0.90, 0.1), (8.0, 0.85, 0.0)],
}

# By hand (mean ± sample std, ddof 1):
# MNIST-5k FID: NS 10, 11, 12 -> 11.0 ± 1.0, the best (bold); LSGAN 10, 12, 14 -> 12.0 ± 2.0: its resampled
#   mean is at most NS's in P = 163/729 = 22% of the draws (enumerated below) > 2.5%: its 95% rank interval
#   reaches 1, underlined; WGAN 20, 21, 22 (+ a diverged 4th run) -> 21.0 ± 1.0, every resampled mean above
#   every one of NS: rank interval [3, 3], not marked; marked 'b': 3 of 4 runs scored, 1 diverged.
# Precision: WGAN .80, .82, .84 -> 0.820 ± 0.020 bold; NS .710 ± .010 (max .72 < min .80: never first), LSGAN
#   .620 ± .020. Recall: LSGAN .55, .56, .57 -> 0.560 ± 0.010 bold; NS .520 ± .020 (max .54 < .55); WGAN
#   0.310 ± 0.010. IS is computed too, but precision and recall are there: IS is not a headline column.
# Ring-8: NS has 2 scored seeds (its third run failed: marked 'a', 2 of 3 runs scored): fewer than 3 seeds in
#   every Ring-8 column -> dagger, nothing marked but the best mean. Modes: NS 8, 8 -> 8.0 ± 0.0 bold; LSGAN
#   7.0 ± 1.0; WGAN 7, 7, 8 -> 7.3 ± 0.6 (std sqrt(1/3)). High-quality: WGAN .95, .90, .85 -> 0.900 ± 0.050
#   bold; NS .9, .8 -> 0.850 ± 0.071 (sqrt(.005)); LSGAN 0.800 ± 0.100. Mode KL: NS 0, .1 -> 0.050 ± 0.071
#   bold; LSGAN 0.200 ± 0.100; WGAN .1, .1, 0 -> 0.067 ± 0.058.
# Usual number of runs per cell: 3 (WGAN/MNIST-5k has 4).
EXPECTED_ROWS = [
    ("NS GAN", [("11.0 ± 1.0", "best", ""), ("0.710 ± 0.010", "", ""), ("0.520 ± 0.020", "", ""),
                ("8.0 ± 0.0", "best", "a"), ("0.850 ± 0.071", "", "a"), ("0.050 ± 0.071", "best", "a")]),
    ("LSGAN", [("12.0 ± 2.0", "tied", ""), ("0.620 ± 0.020", "", ""), ("0.560 ± 0.010", "best", ""),
               ("7.0 ± 1.0", "", ""), ("0.800 ± 0.100", "", ""), ("0.200 ± 0.100", "", "")]),
    ("WGAN", [("21.0 ± 1.0", "", "b"), ("0.820 ± 0.020", "best", "b"), ("0.310 ± 0.010", "", "b"),
              ("7.3 ± 0.6", "", ""), ("0.900 ± 0.050", "best", ""), ("0.067 ± 0.058", "", "")]),
]
EXPECTED_NOTES = [("a", "2 of 3 runs scored: 1 failed"), ("b", "3 of 4 runs scored: 1 diverged")]

EXPECTED_MD_HEADER = ("| Objective | MNIST-5k: FID ↓ | MNIST-5k: Precision ↑ | MNIST-5k: Recall ↑ | "
                      "Ring-8: Modes ↑<sup>†</sup> | Ring-8: High-quality ↑<sup>†</sup> | "
                      "Ring-8: Mode KL ↓<sup>†</sup> |\n|:--|--:|--:|--:|--:|--:|--:|\n")
EXPECTED_MD_ROW = ("| LSGAN | <ins>12.0 ± 2.0</ins> | 0.620 ± 0.020 | **0.560 ± 0.010** | 7.0 ± 1.0 | "
                   "0.800 ± 0.100 | 0.200 ± 0.100 |")

EXPECTED_TABULAR = r"""\begin{tabular}{lrrrrrr}
\toprule
 & \multicolumn{3}{c}{MNIST-5k} & \multicolumn{3}{c}{Ring-8} \\
\cmidrule(lr){2-4} \cmidrule(lr){5-7}
Objective & FID $\downarrow$ & Precision $\uparrow$ & Recall $\uparrow$ & Modes $\uparrow$\textsuperscript{\dag} & High-quality $\uparrow$\textsuperscript{\dag} & Mode KL $\downarrow$\textsuperscript{\dag} \\
\midrule
NS GAN & \textbf{11.0 $\pm$ 1.0} & 0.710 $\pm$ 0.010 & 0.520 $\pm$ 0.020 & \textbf{8.0 $\pm$ 0.0}\textsuperscript{a} & 0.850 $\pm$ 0.071\textsuperscript{a} & \textbf{0.050 $\pm$ 0.071}\textsuperscript{a} \\
LSGAN & \underline{12.0 $\pm$ 2.0} & 0.620 $\pm$ 0.020 & \textbf{0.560 $\pm$ 0.010} & 7.0 $\pm$ 1.0 & 0.800 $\pm$ 0.100 & 0.200 $\pm$ 0.100 \\
WGAN & 21.0 $\pm$ 1.0\textsuperscript{b} & \textbf{0.820 $\pm$ 0.020}\textsuperscript{b} & 0.310 $\pm$ 0.010\textsuperscript{b} & 7.3 $\pm$ 0.6 & \textbf{0.900 $\pm$ 0.050} & 0.067 $\pm$ 0.058 \\
\bottomrule
\end{tabular}
"""


def _ring_points(rng, collapsed: bool = False) -> np.ndarray:
    ang = 2 * np.pi * np.arange(8) / 8
    k = rng.integers(0, 2 if collapsed else 8, 500)
    return (np.stack([2 * np.cos(ang[k]), 2 * np.sin(ang[k])], 1) + 0.02 * rng.standard_normal((500, 2))).astype(
        np.float32)


def _write_samples(d: Path, runs: pd.DataFrame, grid_px: int = 4 * 28) -> None:
    for i, r in runs.iterrows():
        if r["status"] == "failed":
            continue  # a failed run leaves no samples
        s = d / "runs" / r["run_id"] / "samples"
        _png(s / "final.png", grid_px, grid_px, i)
        if r["dataset"] == "ring8":
            np.save(s / "points_final.npy", _ring_points(np.random.default_rng(i)))
        else:
            _png(s / "interpolation.png", 10 * 28, 28, 1000 + i)


def _write_results(d: Path, rows: list[dict], grid_px: int = 4 * 28) -> Path:
    """``d``: a results folder (runs.parquet, suite.yaml named after ``d``, samples) of ``rows``."""
    runs = pd.DataFrame(rows)
    runs["collapsed"] = runs["collapsed"].astype("boolean")
    d.mkdir(parents=True, exist_ok=True)
    runs.to_parquet(d / "runs.parquet", index=False)
    (d / "suite.yaml").write_text(f"name: {d.name}\nversion: 1\n", encoding="utf-8")
    _write_samples(d, runs, grid_px)
    return d


def make_hand_results(root: Path) -> Path:
    rows = []
    for loss, seeds in MNIST.items():
        for seed, v in enumerate(seeds):
            extra = {"reason": "non-finite loss at step 300"} if v is None else {
                FID: v[0], P: v[1], R: v[2], IS: 9.0 - v[0] / 10}
            rows.append(base_row(f"m-{loss}-{seed}", loss, "mnist-5k", seed, "diverged" if v is None else "done",
                                 **extra))
    for loss, seeds in RING.items():
        for seed, v in enumerate(seeds):
            extra = {"reason": "RuntimeError: out of memory"} if v is None else {MODES: v[0], HQ: v[1], KL: v[2]}
            rows.append(base_row(f"r-{loss}-{seed}", loss, "ring8", seed, "failed" if v is None else "done", **extra))
    return _write_results(Path(root) / "hand", rows)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    root = tmp_path_factory.mktemp("overview")
    res = make_hand_results(root / "results")
    paths = write_report(res, root / "reports" / "hand", n_boot=2000, real_data=False)
    return paths, paths["html"].read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def _overview_rows(page: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    table = re.search(r'<table class="overview" id="overview-table">(.*?)</table>', page, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        label = _text(re.search(r'<th scope="row">(.*?)</th>', tr, re.S).group(1))
        cells = []
        for cls, inner in re.findall(r'<td class="([^"]*)"[^>]*>(.*?)</td>', tr, re.S):
            v = _text(re.search(r'<span class="v">(.*?)</span>', inner, re.S).group(1))
            m = re.search(r'<sup class="fn">(.*?)</sup>', inner, re.S)
            mark = next((c for c in cls.split() if c in ("best", "tied")), "")
            cells.append((v, mark, _text(m.group(1)) if m else ""))
        out.append((label, cells))
    return out


def test_lsgan_underline_by_hand():
    """The underline of LSGAN's FID, by exact enumeration of the bootstrap: the share of draws in which
    LSGAN's resampled mean is at most NS's (rank 1; ties share it) is 163/729, far above 2.5%."""
    ns, ls = [10.0, 11.0, 12.0], [10.0, 12.0, 14.0]
    sums = lambda x: [sum(c) for c in itertools.product(x, repeat=3)]  # 3 x the resampled means
    first = sum(a <= b for a in sums(ls) for b in sums(ns))
    assert first == 163 and first / 729 > 0.025
    assert min(sums([20.0, 21.0, 22.0])) > max(sums(ls))  # WGAN: always third


def test_overview_cells_marks_and_notes(hand):
    _, page = hand
    assert _overview_rows(page) == EXPECTED_ROWS
    head = re.search(r'<table class="overview" id="overview-table">.*?<thead>(.*?)</thead>', page, re.S).group(1)
    groups = [(_text(g), int(k)) for k, g in re.findall(r'<th colspan="(\d+)" class="group[^"]*">(.*?)</th>', head, re.S)]
    assert groups == [("MNIST-5k", 3), ("Ring-8", 3)]
    metrics = [_text(m) for m in re.findall(r'<th class="metric[^"]*"[^>]*>(.*?)</th>', head, re.S)]
    assert metrics == ["FID ↓", "Precision ↑", "Recall ↑", "Modes ↑†", "High-quality ↑†", "Mode KL ↓†"]
    notes = re.search(r'<ul class="footnotes" id="overview-notes">(.*?)</ul>', page, re.S).group(1)
    items = [_text(li) for li in re.findall(r"<li>(.*?)</li>", notes, re.S)]
    assert items[:2] == [f"{m} {t}" for m, t in EXPECTED_NOTES]
    assert items[2].startswith("† Too few seeds for any conclusion") and len(items) == 3
    caption = _text(re.search(r'<p class="caption" id="overview-caption">(.*?)</p>', page, re.S).group(1))
    assert "mean ± std over seeds, 3 runs per cell unless marked" in caption
    assert "↓: lower is better; ↑: higher is better" in caption and "Bold: best mean per column" in caption
    assert "classifier" not in caption and "inception (InceptionV3" in caption and "for MNIST-5k" in caption
    assert "modes (mode assignment (2-D)) for Ring-8" in caption
    # the statistics once, in a collapsible note
    stats = re.search(r'<details id="statistics">(.*?)</details>', page, re.S).group(1)
    assert "rank interval" in stats and "2,000 seeded draws" in stats and "fewer than 3 scored seeds" in stats
    # the per-metric captions no longer repeat the conventions; their own content stays
    fid_card = page[page.index('id="card-fid"'):page.index('id="card-is"')]
    assert "Bold: best mean" not in fid_card and "Extractor: inception" in fid_card
    assert "WGAN / MNIST-5k: 1/4 excluded: diverged" in _text(fid_card)
    modes_card = _text(page[page.index('id="card-modes_covered"'):])
    assert "Too few seeds for any conclusion in Ring-8" in modes_card


def test_overview_comes_first_with_a_nav(hand):
    _, page = hand
    nav = re.search(r'<nav class="toc"[^>]*>(.*?)</nav>', page, re.S).group(1)
    targets = re.findall(r'href="#([^"]+)"', nav)
    assert targets[:3] == ["overview", "gallery", "summary"] and "provenance" in targets
    assert "ds-mnist-5k" in targets and "ds-ring8" in targets
    for t in targets:
        assert f'id="{t}"' in page, t
    order = [page.index(s) for s in ('<nav class="toc"', 'id="overview-table"', 'id="gallery"', 'id="summary-fid"',
                                     'id="ds-mnist-5k"', 'id="cost"', 'id="provenance"')]
    assert order == sorted(order)
    # every link of the page resolves to an element
    for t in set(re.findall(r'href="#([^"]+)"', page)):
        assert f'id="{t}"' in page, t


def test_gallery_one_image_per_objective_per_dataset(hand):
    _, page = hand
    gal = page[page.index('id="gallery"'):page.index('id="summary"')]
    for ds, what in (("MNIST-5k", "samples"), ("Ring-8", "generated points")):
        alts = re.findall(rf'<img class="thumb" src="data:image/png;base64,[^"]+" alt="{what} of ([^"]+) on {ds}"', gal)
        assert alts == ["NS GAN", "LSGAN", "WGAN"], (ds, alts)
    assert len(re.findall(r"<img ", gal)) == 6


def test_markdown_table(hand):
    paths, _ = hand
    assert paths["markdown"] == paths["html"].parent / "tables.md"
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md.startswith("# ganbench tables: hand\n")
    assert md.index("## Overview") < md.index("## Tables by metric")
    assert EXPECTED_MD_HEADER in md
    rows = md.split(EXPECTED_MD_HEADER, 1)[1].splitlines()
    assert rows[1] == EXPECTED_MD_ROW
    assert rows[0] == ("| NS GAN | **11.0 ± 1.0** | 0.710 ± 0.010 | 0.520 ± 0.020 | **8.0 ± 0.0**<sup>a</sup> | "
                       "0.850 ± 0.071<sup>a</sup> | **0.050 ± 0.071**<sup>a</sup> |")
    assert "- <sup>b</sup> 3 of 4 runs scored: 1 diverged" in md
    assert "<details><summary>Statistics</summary>" in md
    assert "### FID ↓\n\n| Objective | MNIST-5k |\n|:--|--:|\n| NS GAN | **11.0 ± 1.0** |" in md


def test_latex_overview_first(hand):
    paths, _ = hand
    tex = paths["latex"].read_text(encoding="utf-8")
    first = tex.index(r"\begin{table}")
    assert tex.index(r"\label{tab:overview}") < tex.index(r"\label{tab:fid}")
    assert tex.index(r"\label{tab:overview}") < tex.index(r"\begin{table}", first + 1)
    block = tex[tex.index(r"\label{tab:overview}"):]
    assert EXPECTED_TABULAR in block[:block.index(r"\end{table}")]
    assert r"\textsuperscript{b} 3 of 4 runs scored: 1 diverged" in block


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_overview_compiles(hand, tmp_path):
    paths, _ = hand
    shutil.copy(paths["latex"], tmp_path / "tables.tex")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{booktabs}\n\\begin{document}\n\\input{tables.tex}\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


# ---- a quick-style report (9 objectives x mnist-5k, ring8 x 3 seeds) in headless Chromium ----------------------
QUICK = ["mm", "ns", "lsgan", "wgan", "wgan-gp", "dragan", "began", "acgan", "infogan"]


def make_quick_style_results(root: Path) -> Path:
    rows = []
    rng = np.random.default_rng(0)
    for i, loss in enumerate(QUICK):
        for seed in range(3):
            f = 40.0 + 20 * i + 5 * rng.standard_normal()
            rows.append(base_row(f"m-{loss}-{seed}", loss, "mnist-5k", seed, **{
                FID: f, IS: 6.0 - f / 50, P: 0.8 - f / 1000, R: 0.5 - f / 2000,
                "metric.best.f_score": 0.6 - f / 1000, "metric.best.density": 1.0 - f / 500,
                "metric.best.coverage": 0.7 - f / 800, "metric.best.classes_covered": 10.0,
                "metric.best.class_kl": f / 1000, "eval.extractor": "classifier"}))
            c = float(min(8, 4 + i % 5 + seed))
            rows.append(base_row(f"r-{loss}-{seed}", loss, "ring8", seed, **{
                MODES: c, HQ: 0.5 + c / 20, KL: 0.05 * (8 - c)}))
    return _write_results(Path(root) / "quickstyle", rows, grid_px=8 * 30 + 2)  # 8 x 8 digits, as the runner writes


VIEW = """
const r = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
const ov = document.getElementById('overview-table');
return {
  w: innerWidth, h: innerHeight, scroll: document.documentElement.scrollWidth,
  overview: r(ov),
  gallery: Array.from(document.querySelectorAll('#gallery img')).map(r),
  images: Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]),
  links: Array.from(document.querySelectorAll('a[href^="#"]')).map(a => [a.getAttribute('href'),
          !!document.getElementById(a.getAttribute('href').slice(1))]),
  navTop: document.querySelector('nav.toc').getBoundingClientRect().top,
};"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package chromium)")
def test_first_screen_in_chromium(tmp_path):
    res = make_quick_style_results(tmp_path / "results")
    paths = write_report(res, tmp_path / "reports" / "quickstyle", n_boot=200, real_data=False)
    driver = chromium_driver(tmp_path)
    try:
        for width, height in ((1440, 900), (1280, 800)):
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            driver.get(paths["html"].resolve().as_uri())
            v = driver.execute_script(VIEW)
            assert (v["w"], v["h"]) == (width, height)
            assert v["scroll"] <= v["w"], f"the page overflows horizontally at {width} px"
            bad = [a for a, done, w in v["images"] if not (done and w > 0)]
            assert not bad and len(v["images"]) >= 18 + 18, bad
            assert all(ok for _, ok in v["links"]), [h for h, ok in v["links"] if not ok]
            if width == 1440:
                left, top, right, bottom = v["overview"]
                assert 0 <= left and right <= width and bottom <= height, v["overview"]
                seen = [g for g in v["gallery"] if g[0] >= 0 and g[2] <= width and g[1] >= 0 and g[3] <= height]
                assert seen, v["gallery"]
                assert driver.save_screenshot(str(tmp_path / "first-screen.png"))
        # the navigation stays on screen when the page scrolls
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight / 2)")
        assert driver.execute_script("return document.querySelector('nav.toc').getBoundingClientRect().top") == 0
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not severe, severe
    finally:
        driver.quit()
