"""The shipped PacGAN Table 1 reference (pacgan2018) and `--compare pacgan2018`: published
rows mapped to NS with stabilise.pacgan m, refused unless the runs used PacGAN's threshold."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from bench import aggregate as agg
from bench import references
from bench.report import write_report

MODES = "metric.final.modes_covered"


def test_pacgan2018_as_published():
    ref = references.load("pacgan2018")
    assert "pacgan2018" in references.available() and "PacGAN" in ref.citation and "@inproceedings" in ref.bibtex
    assert ref.metric_keys == ("modes_covered", "high_quality_fraction", "mode_kl")
    assert ref.spread == "standard error" and ref.n_seeds == 10 and ref.selection == "final"
    t = ref.table
    assert len(t) == 2 * 5 * 3 and set(t["dataset"]) == {"ring8-pacgan", "grid25-pacgan"}
    v = ref.value
    assert v("ns", "ring8-pacgan", "modes_covered", pacgan=1) == (6.3, 0.5, False)
    assert v("ns", "ring8-pacgan", "high_quality_fraction", pacgan=2) == (95.6, 2.0, False)
    assert v("ns", "ring8-pacgan", "mode_kl", pacgan=3) == (0.10, 0.02, False)
    assert v("ns", "ring8-pacgan", "mode_kl", pacgan=4) == (0.07, 0.02, False)
    assert v("ns", "grid25-pacgan", "modes_covered", pacgan=1) == (17.3, 0.8, False)
    assert v("ns", "grid25-pacgan", "high_quality_fraction", pacgan=3) == (94.2, 0.4, False)
    assert v("ns", "grid25-pacgan", "mode_kl", pacgan=4) == (0.04, 0.01, False)
    ali = t[t["row_label"] == "ALI"]
    assert ali["loss"].isna().all() and len(ali) == 6
    assert sorted(ali.loc[ali["metric"] == "modes_covered", "mean"]) == [6.6, 24.1]
    # percentages are converted to our fractions
    assert set(t.loc[t["metric"] == "high_quality_fraction", "scale"]) == {0.01}


def _runs(threshold="pacgan"):
    rows = []
    data = {  # (loss, m): modes covered per seed on ring8-pacgan
        ("ns", 1): [6.0, 7.0],  # mean 6.5; SE 0.5; |6.5 - 6.3| <= 2 sqrt(0.5² + 0.5²) -> within
        ("ns", 2): [5.0, 5.0],  # |5 - 7.9| = 2.9 > 2 sqrt(0.1² + 0) -> outside
        ("wgan", 1): [8.0, 8.0],  # not published
    }
    for (loss, m), vals in data.items():
        for seed, x in enumerate(vals):
            r = {"run_id": f"{loss}-{m}-{seed}", "loss": loss, "dataset": "ring8-pacgan", "seed": seed,
                 "status": "done", MODES: x, "metric.best.modes_covered": 8.0,
                 "metric.final.high_quality_fraction": 0.95, "metric.best.high_quality_fraction": 0.99,
                 "metric.final.mode_kl": 0.2, "metric.best.mode_kl": 0.01,
                 "eval.extractor": "modes", "eval.n_fake": 2500, "eval.selection": "best-over-checkpoints"}
            if threshold is not None:
                r["eval.mode_threshold_name"] = threshold
            if m != 1:  # dropped from the record at its default, as in runs.parquet
                r["param.stabilise.pacgan"] = m
            rows.append(r)
    return pd.DataFrame(rows)


def _cell(comp, label):
    r = comp.cells[comp.cells["row_label"] == label]
    assert len(r) == 1, comp.cells
    return r.iloc[0]


def test_pacgan_axis_and_compare():
    runs = _runs()
    t = agg.aggregate(runs, "modes_covered", which="final", n_boot=100)
    assert "pacgan" in t.axes and set(t.cells["column"]) == {"Ring-8 (PacGAN) / m=1", "Ring-8 (PacGAN) / m=2"}
    comp = agg.compare_reference(t, "pacgan2018", runs)
    assert comp.comparable, comp.reason
    gan = _cell(comp, "GAN")
    assert gan["ours_mean"] == pytest.approx(6.5) and gan["pub_mean"] == 6.3 and gan["within"] is True
    p2 = _cell(comp, "PacGAN2")
    assert p2["ours_mean"] == 5.0 and p2["within"] is False
    assert _cell(comp, "PacGAN3")["status"] == "not run" and _cell(comp, "ALI")["status"] == "not run"
    assert _cell(comp, "WGAN (m=1)")["status"] == "not published"
    assert set(comp.cells["dataset"]) == {"ring8-pacgan"}  # grid not run, not listed
    # published percentages are compared as fractions
    hq = agg.compare_reference(agg.aggregate(runs, "high_quality_fraction", which="final", n_boot=100),
                               "pacgan2018", runs)
    assert _cell(hq, "GAN")["pub_mean"] == pytest.approx(0.982) and _cell(hq, "GAN")["pub_std"] == pytest.approx(0.002)


def test_one_m_only_matches_the_m_of_the_runs():
    runs = _runs()
    runs = runs[runs["param.stabilise.pacgan"].isna()].drop(columns="param.stabilise.pacgan")
    t = agg.aggregate(runs, "modes_covered", which="final", n_boot=100)
    assert "pacgan" not in t.axes
    comp = agg.compare_reference(t, "pacgan2018", runs)
    assert _cell(comp, "GAN")["status"] == "compared" and _cell(comp, "PacGAN2")["status"] == "not run"


@pytest.mark.parametrize("threshold", ["ganbench", None])
def test_refused_without_pacgan_threshold(threshold):
    runs = _runs(threshold)
    comp = agg.compare_reference(agg.aggregate(runs, "modes_covered", n_boot=100), "pacgan2018", runs)
    assert not comp.comparable and comp.cells.empty
    assert "eval.mode_threshold: pacgan" in comp.reason


def test_refused_for_fid_and_lucic_unchanged():
    runs = _runs().assign(**{"metric.best.frechet_inception_distance": 1.0})
    comp = agg.compare_reference(agg.aggregate(runs, "fid", n_boot=100), "pacgan2018", runs)
    assert not comp.comparable and "Modes covered" in comp.reason


def test_report_compare_pacgan2018(tmp_path):
    res = tmp_path / "results" / "pacgan2018"
    res.mkdir(parents=True)
    _runs().to_parquet(res / "runs.parquet")
    paths = write_report(res, tmp_path / "reports", compare="pacgan2018", n_boot=100)
    html = paths["html"].read_text()
    assert 'id="compare-modes_covered"' in html and 'id="compare-mode_kl"' in html
    assert "PacGAN2" in html and "Lin et al. 2018" in html and "final checkpoint" in html
    assert "No comparison" not in html
    tex = paths["latex"].read_text()
    assert "tab:compare" in tex and "in 2SE" in tex
    # with the default threshold the report says why it does not compare
    _runs("ganbench").to_parquet(res / "runs.parquet")
    html = write_report(res, tmp_path / "reports2", compare="pacgan2018", n_boot=100)["html"].read_text()
    assert "No comparison" in html and "eval.mode_threshold: pacgan" in html
