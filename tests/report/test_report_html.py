"""The HTML report: content checks without a browser, then headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest

from conftest_report import make_results_dir

from bench.report import main_report, write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    results = make_results_dir(root / "results")
    paths = write_report(results, root / "reports" / "synthetic", compare="lucic2018", n_boot=500)
    return results, paths


def test_report_files_and_self_contained(report):
    results, paths = report
    html = paths["html"].read_text(encoding="utf-8")
    assert paths["html"].name == "index.html" and paths["latex"].name == "tables.tex"
    assert paths["markdown"] == paths["html"].parent / "tables.md" and paths["markdown"].read_text().startswith("# ")
    assert paths["latex"].read_text().count(r"\begin{table}") >= 3
    # self-contained: every image is an embedded PNG, no external reference
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    for s in srcs:
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    # summary tables, one per available metric, plus cost and runs tables
    for tid in ["summary-fid", "summary-is", "summary-precision", "summary-recall", "summary-modes_covered",
                "cost-table", "runs-table"]:
        assert f'id="{tid}"' in html
    # exclusions are stated, failure reasons listed, provenance shown
    assert "1/3 excluded: diverged" in html
    assert "1/3 excluded: failed" in html
    assert "1 collapsed kept" in html
    assert "NaN in d_loss at step 412" in html and "CUDA out of memory" in html
    assert "abc1234" in html and "Suite version" in html and ">3<" in html
    # published values beside ours, VAE published-only
    assert "Lucic et al. 2018: 6.8 ± 0.5" in html
    assert "VAE (published only)" in html
    assert "Budget" in html  # fashion-mnist has a wide search
    # 3 distributions + 3 curve figures + MNIST 3 x (grid + interpolation) + Fashion-MNIST 2 x (grid +
    # interpolation) + Ring-8 2 point plots + 1 budget figure = 19, and the first screen's gallery: one
    # thumbnail per objective and dataset (3 + 2 + 2)
    assert len(srcs) == 19 + 7


def test_report_refuses_incomparable(tmp_path):
    import pandas as pd

    results = make_results_dir(tmp_path / "results")
    runs = pd.read_parquet(results / "runs.parquet")
    runs["eval.extractor"] = runs["eval.extractor"].replace("inception", "classifier")
    runs.to_parquet(results / "runs.parquet", index=False)
    (results / "curves.parquet").unlink()
    shutil.rmtree(results / "runs")  # no samples at all: the report must cope
    (results / "suite.yaml").unlink()
    out = main_report(results, tmp_path / "reports", compare="lucic2018")
    assert out == tmp_path / "reports" / "synthetic" / "index.html"
    html = out.read_text(encoding="utf-8")
    assert "No comparison with lucic2018" in html
    assert "&#39;classifier&#39; extractor" in html
    assert "no samples" in html and "suite.yaml missing" in html


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package chromium)")
def test_report_in_headless_chromium(report, tmp_path):
    _, paths = report
    driver = chromium_driver(tmp_path)
    try:
        driver.get(paths["html"].resolve().as_uri())
        driver.execute_script("return document.readyState")
        complete = driver.execute_script(
            "return Array.from(document.images).every(i => i.complete)"
        )
        assert complete
        imgs = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.naturalHeight])"
        )
        assert len(imgs) >= 15
        broken = [alt for alt, w, h in imgs if not (w > 0 and h > 0)]
        assert not broken, f"images not loaded: {broken}"
        n_tables = driver.execute_script("return document.querySelectorAll('table.summary').length")
        assert n_tables >= 5
        headers = driver.execute_script(
            "return Array.from(document.querySelectorAll('#summary-fid thead th')).map(e => e.textContent)"
        )
        assert headers == ["Objective", "MNIST", "Fashion-MNIST"]
        bold = driver.execute_script(
            "return getComputedStyle(document.querySelector('#summary-fid td.best .v')).fontWeight"
        )
        assert int(bold) >= 700
        assert driver.execute_script("return document.querySelectorAll('#runs-table tbody tr').length") == 29
        shot = paths["html"].parent / "screenshot.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not severe, severe
    finally:
        driver.quit()


def chromium_driver(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER)) if CHROMEDRIVER.exists() else Service()
    return webdriver.Chrome(options=opts, service=service)


REAL_SUITE = """
name: real-small
version: 1
grid:
  loss: [ns, wgan]
  dataset: [ring8, mnist-5k]
  seed: [0, 1]
fixed: {batch_size: 32, log_every: 10}
datasets:
  ring8: {steps: 60, checkpoint_every: 30, eval: {extractor: modes, every: 30, num_samples: 500, kid_subset_size: 100}}
  mnist-5k: {model: dcgan, model_params: {width: 8}, steps: 40, checkpoint_every: 20,
             eval: {extractor: classifier, every: 20, num_samples: 200, kid_subset_size: 100}}
overrides:
  wgan: {debug: {nan_at_step: 25}}
resources: {cpu: 1}
"""


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian package chromium)")
def test_report_of_a_real_suite_in_chromium(tmp_path):
    """A small real suite (trained, scored, collected by ganbench itself), its report opened in
    headless Chromium: no console errors, every image loaded, the tables present."""
    from bench.runner import run_suite
    from bench.suite import load_suite

    p = tmp_path / "real-small.yaml"
    p.write_text(REAL_SUITE)
    out = run_suite(load_suite(p), tmp_path / "results", executor="serial", progress=False, log=lambda m: None)
    df = out["table"]
    assert sorted(df["status"]) == ["diverged"] * 4 + ["done"] * 4
    paths = write_report(tmp_path / "results" / "real-small", tmp_path / "reports" / "real-small", n_boot=200)
    html = paths["html"].read_text(encoding="utf-8")
    assert "4/4" not in html or "excluded" in html
    driver = chromium_driver(tmp_path)
    try:
        driver.get(paths["html"].resolve().as_uri())
        imgs = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        assert len(imgs) >= 6 and all(c and w > 0 for _, c, w in imgs), imgs
        assert driver.execute_script("return document.querySelectorAll('table.summary').length") >= 2
        assert driver.execute_script("return document.querySelectorAll('#runs-table tbody tr').length") == 8
        text = driver.execute_script("return document.body.innerText")
        assert "excluded: diverged" in text and "non-finite loss at step" in text
        assert driver.save_screenshot(str(tmp_path / "real.png"))
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not severe, severe
    finally:
        driver.quit()
