"""Aggregation numbers against hand computations on a small fixed results table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench import aggregate as agg
from bench.errors import MetricsError
from bench.metrics.catalogue import METRICS
from bench.report.captions import table_caption

FID = "metric.best.frechet_inception_distance"
NAN = math.nan


def _row(loss, dataset, seed, fid, status="done", collapsed=False, phase="grid", cfg=None, wall=3600.0):
    return {
        "run_id": f"{dataset}-{loss}-{phase}-{cfg}-{seed}",
        "suite": "t",
        "loss": loss,
        "dataset": dataset,
        "model": "infogan",
        "seed": seed,
        "status": status,
        "reason": None if status == "done" else status,
        "collapsed": collapsed,
        "search.phase": phase,
        "search.config_id": cfg or f"{dataset}-{loss}",
        FID: None if (fid is None or (isinstance(fid, float) and math.isnan(fid))) else fid,
        "eval.extractor": "inception",
        "eval.selection": "best-over-checkpoints",
        "cost.wall_s": wall,
        "cost.steps_per_s": 10.0,
        "cost.device": "cpu",
    }


@pytest.fixture
def runs() -> pd.DataFrame:
    rows = [
        # MNIST grid
        _row("ns", "mnist", 0, 6.0),
        _row("ns", "mnist", 1, 7.0),
        _row("ns", "mnist", 2, 8.0),
        _row("ns", "mnist", 3, None, status="diverged"),
        _row("wgan", "mnist", 0, 10.0),
        _row("wgan", "mnist", 1, 12.0),
        _row("wgan", "mnist", 2, 14.0, collapsed=True),
        _row("lsgan", "mnist", 0, None, status="failed", collapsed=None),
        _row("lsgan", "mnist", 1, 9.0),
        _row("lsgan", "mnist", 2, 11.0),
        # CIFAR-10 grid, 4 seeds each, complete separation
        *[_row("ns", "cifar10", s, v) for s, v in enumerate([50.0, 51.0, 52.0, 53.0])],
        *[_row("mm", "cifar10", s, v) for s, v in enumerate([60.0, 61.0, 62.0, 63.0])],
        _row("mm", "cifar10", 4, None, status="diverged"),
        _row("mm", "cifar10", 5, None, status="failed"),
        # Fashion-MNIST: ns has only a wide search; wgan has wide + final
        _row("ns", "fashion-mnist", 0, 30.0, phase="wide", cfg="a"),
        _row("ns", "fashion-mnist", 0, 25.0, phase="wide", cfg="b"),
        _row("ns", "fashion-mnist", 0, None, status="failed", phase="wide", cfg="c"),
        _row("wgan", "fashion-mnist", 0, 20.0, phase="wide", cfg="d"),
        _row("wgan", "fashion-mnist", 0, 40.0, phase="wide", cfg="e"),
        _row("wgan", "fashion-mnist", 0, 21.0, phase="final", cfg="d"),
        _row("wgan", "fashion-mnist", 1, 23.0, phase="final", cfg="d"),
    ]
    df = pd.DataFrame(rows)
    df["collapsed"] = df["collapsed"].astype("boolean")
    return df


def _cell(table, dataset, loss):
    c = table.cells
    r = c[(c["dataset"] == dataset) & (c["loss"] == loss)]
    assert len(r) == 1
    return r.iloc[0]


def test_catalogue_declares_every_metric_once():
    keys = [m.key for m in METRICS.values()]
    assert len(keys) == len(set(keys))
    fid = agg.get_metric("fid")
    assert agg.get_metric("frechet_inception_distance") is fid
    assert fid.col("best") == FID and not fid.higher_is_better and fid.format(6.849) == "6.8"
    assert agg.get_metric("inception_score_mean").higher_is_better
    assert agg.get_metric("mode_kl").higher_is_better is False
    with pytest.raises(MetricsError, match="unknown metric"):
        agg.get_metric("nope")


def test_grid_means_std_counts_and_notes(runs):
    t = agg.aggregate(runs, "fid", n_boot=500)
    # ns/mnist: 6, 7, 8 -> mean 7, sample std sqrt((1 + 0 + 1) / 2) = 1; the diverged run is counted
    ns = _cell(t, "mnist", "ns")
    assert ns["mean"] == pytest.approx(7.0) and ns["std"] == pytest.approx(1.0)
    assert (ns["n"], ns["n_total"], ns["n_diverged"], ns["n_failed"]) == (3, 4, 1, 0)
    assert ns["note"] == "1/4 excluded: diverged"
    # wgan/mnist: collapsed run kept by default: 10, 12, 14 -> mean 12, std 2
    w = _cell(t, "mnist", "wgan")
    assert w["mean"] == pytest.approx(12.0) and w["std"] == pytest.approx(2.0)
    assert (w["n"], w["n_collapsed"]) == (3, 1)
    assert w["note"] == "1 collapsed kept"
    # lsgan/mnist: failed run left out: 9, 11 -> mean 10, std sqrt(2)
    ls = _cell(t, "mnist", "lsgan")
    assert ls["mean"] == pytest.approx(10.0) and ls["std"] == pytest.approx(math.sqrt(2.0))
    assert ls["note"] == "1/3 excluded: failed" and ls["n_failed"] == 1
    # two reasons at once
    mm = _cell(t, "cifar10", "mm")
    assert mm["mean"] == pytest.approx(61.5) and mm["std"] == pytest.approx(math.sqrt(5.0 / 3.0))
    assert mm["note"] == "2/6 excluded: 1 diverged, 1 failed"
    assert "grid" in ns["rule"]
    # caption names metric, extractor, and every exclusion with its count
    cap = table_caption(t)
    assert "FID (lower is better)" in cap and "inception" in cap
    assert "NS GAN / MNIST: 1/4 excluded: diverged" in cap
    assert "MM GAN / CIFAR-10: 2/6 excluded: 1 diverged, 1 failed" in cap


def test_exclude_collapsed(runs):
    t = agg.aggregate(runs, "fid", exclude_collapsed=True, n_boot=100)
    w = _cell(t, "mnist", "wgan")
    # 10, 12 -> mean 11, std sqrt(2)
    assert w["mean"] == pytest.approx(11.0) and w["std"] == pytest.approx(math.sqrt(2.0))
    assert (w["n"], w["n_collapsed_excluded"]) == (2, 1)
    assert w["note"] == "1/3 excluded: collapsed"


def test_selection_rules_final_and_search_only(runs):
    t = agg.aggregate(runs, "fid", n_boot=100)
    # wgan/fashion: final phase 21, 23 -> mean 22, std sqrt(2)
    w = _cell(t, "fashion-mnist", "wgan")
    assert w["mean"] == pytest.approx(22.0) and w["std"] == pytest.approx(math.sqrt(2.0))
    assert w["n"] == 2 and w["rule"].startswith("final phase")
    # ns/fashion: no final phase -> best of 3 wide configs by FID: config b (25.0)
    ns = _cell(t, "fashion-mnist", "ns")
    assert ns["mean"] == pytest.approx(25.0) and ns["n"] == 1 and math.isnan(ns["std"])
    assert "no final phase" in ns["rule"] and "best of 3" in ns["rule"] and "config b" in ns["rule"]
    assert t.cell_text(ns) == "25.0"


def test_best_and_rank_rule(runs):
    t = agg.aggregate(runs, "fid", n_boot=100)
    # MNIST: ns (7.0) best; lsgan has 2 scored seeds (< 3): no conclusion in the column, no marks
    assert _cell(t, "mnist", "ns")["best"]
    w = _cell(t, "mnist", "wgan")
    assert not w["best"] and not w["tied_with_best"] and not w["testable"]
    assert "Too few seeds for any conclusion in Fashion-MNIST, MNIST" in table_caption(t)
    # CIFAR-10: 4 vs 4 completely separated: every resampled mean of mm above every one of ns ->
    # rank interval [2, 2] does not reach 1 -> told apart from the best
    mm = _cell(t, "cifar10", "mm")
    assert (mm["rank_lo"], mm["rank_hi"]) == (2, 2) and not mm["tied_with_best"] and mm["testable"]
    assert _cell(t, "cifar10", "ns")["best"]
    wide = t.wide("text")
    assert wide.loc["ns", "MNIST"] == "7.0 ± 1.0"
    assert list(wide.columns) == ["MNIST", "Fashion-MNIST", "CIFAR-10"]


def test_higher_is_better_picks_max():
    df = pd.DataFrame([
        {"run_id": f"r{i}", "loss": loss, "dataset": "ring8", "seed": i, "status": "done",
         "metric.best.modes_covered": v, "eval.extractor": "modes"}
        for i, (loss, v) in enumerate([("ns", 8.0), ("ns", 6.0), ("wgan", 3.0), ("wgan", 5.0)])
    ])
    t = agg.aggregate(df, "modes_covered", n_boot=100)
    assert _cell(t, "ring8", "ns")["best"] and _cell(t, "ring8", "ns")["mean"] == 7.0
    assert t.extractors == ["modes"]


def test_bootstrap_ci_deterministic_and_hand_checked(runs):
    a = agg.aggregate(runs, "fid", n_boot=1000, seed=3)
    b = agg.aggregate(runs, "fid", n_boot=1000, seed=3)
    pd.testing.assert_series_equal(a.cells["ci_low"], b.cells["ci_low"])
    ns = _cell(a, "mnist", "ns")
    assert 6.0 <= ns["ci_low"] < 7.0 < ns["ci_high"] <= 8.0
    # two values 9, 11: bootstrap means are 9 (p=1/4), 10 (1/2), 11 (1/4) -> 95% CI = [9, 11]
    assert agg.bootstrap_ci(np.array([9.0, 11.0]), 4000, 0.95, 0) == (9.0, 11.0)
    assert agg.bootstrap_ci(np.array([5.0]), 100) == (5.0, 5.0)


def test_representative_run_is_closest_to_median(runs):
    t = agg.aggregate(runs, "fid", n_boot=100)
    reps = agg.representative_runs(t)
    assert reps[("mnist", "ns")] == "mnist-ns-grid-None-1"  # 7.0 is the median of 6, 7, 8
    assert reps[("mnist", "lsgan")] == "mnist-lsgan-grid-None-1"  # 9 and 11 tie around 10: first


def test_cost_table(runs):
    c = agg.cost_table(runs)
    r = c[(c["dataset"] == "mnist") & (c["loss"] == "ns")].iloc[0]
    # 4 runs of 3600 s each -> 4 device-hours
    assert r["runs"] == 4 and r["device_hours"] == pytest.approx(4.0) and r["steps_per_s_mean"] == 10.0
    r = c[(c["dataset"] == "fashion-mnist") & (c["loss"] == "ns")].iloc[0]
    assert r["runs"] == 3 and r["device_hours"] == pytest.approx(3.0)


def test_available_metrics(runs):
    assert [m.id for m in agg.available_metrics(runs)] == ["fid"]
    assert [m.id for m in agg.available_metrics(runs, kind="cost")] == ["steps_per_s", "wall_s"]


def test_budget_curves_match_closed_form():
    # configs scored 1 and 3 (lower is better): E[min of k draws with replacement]
    #   = 1 * (1 - (1/2)^k) + 3 * (1/2)^k  ->  k=1: 2.0, k=2: 1.5
    df = pd.DataFrame([
        {"run_id": f"r{i}", "loss": "ns", "dataset": "mnist", "seed": 0, "status": "done",
         "search.phase": "wide", "search.config_id": f"c{i}", FID: v}
        for i, v in enumerate([1.0, 3.0])
    ])
    bc = agg.budget_curves(df, "fid", n_boot=20000, seed=0)
    assert list(bc["k"]) == [1, 2] and list(bc["K"]) == [2, 2]
    assert bc["mean"].tolist() == pytest.approx([2.0, 1.5], abs=0.03)
    assert bc["lo"].tolist() == [1.0, 1.0] and bc["hi"].tolist() == [3.0, 3.0]
    # a failed configuration stays in the pool but can never be best
    df.loc[1, "status"] = "failed"
    df.loc[1, FID] = None
    bc = agg.budget_curves(df, "fid", n_boot=20000, seed=0)
    assert bc["p_none"].tolist() == pytest.approx([0.5, 0.25], abs=0.02)
    assert bc["mean"].tolist() == [1.0, 1.0]
    # no search phase -> empty
    assert agg.budget_curves(df.assign(**{"search.phase": "grid"}), "fid").empty


def test_min_mann_whitney_p_matches_the_exact_test():
    """2 / C(n1 + n2, n1) is the exact two-sided p of complete separation (checked against scipy)."""
    from scipy import stats

    for n1, n2 in [(2, 2), (3, 3), (3, 4), (4, 4), (5, 5)]:
        x, y = np.arange(n1, dtype=float), np.arange(n2, dtype=float) + 100
        p = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue
        assert agg.min_mann_whitney_p(n1, n2) == pytest.approx(p)
    assert agg.min_mann_whitney_p(3, 3) == pytest.approx(0.1) and agg.min_mann_whitney_p(4, 4) < 0.05
