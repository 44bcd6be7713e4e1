"""Rank intervals and win probabilities on hand-made tables (values computed by hand or by exact
enumeration of every bootstrap resample)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from bench import aggregate as agg

FID = "metric.best.frechet_inception_distance"


def _runs(data: dict) -> pd.DataFrame:
    rows = []
    for loss, vals in data.items():
        for seed, v in enumerate(vals):
            rows.append({"run_id": f"{loss}-{seed}", "loss": loss, "dataset": "mnist", "seed": seed, "status": "done",
                         FID: v, "eval.extractor": "inception", "eval.selection": "best-over-checkpoints"})
    return pd.DataFrame(rows)


def test_win_probability_by_hand():
    a, b, c = [1, 2, 3], [4, 5, 6], [2, 5, 8]
    # lower is better (FID). a vs b: all 9 pairs won -> 1
    assert agg.win_probability(a, b, False) == 1.0 and agg.win_probability(b, a, False) == 0.0
    # a vs c: 1 beats 2, 5, 8 (3); 2 ties 2 (½) and beats 5, 8 (2.5); 3 beats 5, 8 (2) -> 7.5 / 9
    assert agg.win_probability(a, c, False) == pytest.approx(7.5 / 9)
    # b vs c: 4 beats 5, 8 (2); 5 ties 5, beats 8 (1.5); 6 beats 8 (1) -> 4.5 / 9
    assert agg.win_probability(b, c, False) == pytest.approx(0.5)
    # complementary, and the direction flips with higher-is-better
    assert agg.win_probability(c, a, False) == pytest.approx(1.5 / 9)
    assert agg.win_probability(a, c, True) == pytest.approx(1.5 / 9)


def test_win_matrix_of_a_table():
    t = agg.aggregate(_runs({"ns": [1, 2, 3], "wgan": [4, 5, 6], "lsgan": [2, 5, 8]}), "fid", n_boot=500)
    w = agg.win_matrix(t, "MNIST")
    assert list(w.index) == ["ns", "lsgan", "wgan"]  # ranking order: means 2, 5, 5 -> lsgan before wgan (registry order)
    assert w.at["ns", "wgan"] == 1.0 and w.at["ns", "lsgan"] == pytest.approx(7.5 / 9)
    assert w.at["wgan", "lsgan"] == pytest.approx(0.5) and np.isnan(w.at["ns", "ns"])


def test_separated_objectives_have_point_intervals():
    t = agg.aggregate(_runs({"ns": [1, 2, 3], "wgan": [10, 11, 12], "lsgan": [20, 21, 22]}), "fid", n_boot=500)
    r = agg.ranking(t, "MNIST")
    assert list(r["loss"]) == ["ns", "wgan", "lsgan"]
    assert list(zip(r["rank_lo"], r["rank_hi"])) == [(1, 1), (2, 2), (3, 3)]
    assert list(r["p_first"]) == [1.0, 0.0, 0.0]
    assert list(r["tied_with_best"]) == [True, False, False] and r["testable"].all()


def test_overlapping_pair_against_exact_enumeration():
    ns, wgan = [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]
    # every one of the 27 x 27 equally likely resamples: how often wgan's mean beats (is below) ns's
    resamples = lambda v: [np.mean(c) for c in itertools.product(v, repeat=3)]  # noqa: E731
    a, b = np.array(resamples(ns)), np.array(resamples(wgan))
    p_wgan_first = float((b[None, :] <= a[:, None]).mean())  # ties share rank 1
    ri = agg.rank_intervals([ns, wgan], higher_is_better=False, n_boot=20000, seed=1)
    assert ri["p_first"][1] == pytest.approx(p_wgan_first, abs=0.01)
    assert ri["p_first"][0] == pytest.approx(float((a[:, None] <= b[None, :]).mean()), abs=0.01)
    # wgan ranks first in more than 2.5% of draws: its interval reaches 1 -> not told apart from ns
    assert p_wgan_first > 0.025 and (ri["rank_lo"][1], ri["rank_hi"][1]) == (1, 2)
    t = agg.aggregate(_runs({"ns": ns, "wgan": wgan}), "fid", n_boot=2000)
    w = t.cells[t.cells["loss"] == "wgan"].iloc[0]
    assert w["tied_with_best"] and w["testable"] and not w["best"]


def test_too_few_seeds_no_conclusion():
    t = agg.aggregate(_runs({"ns": [1, 2], "wgan": [10, 11]}), "fid", n_boot=200)
    w = t.cells[t.cells["loss"] == "wgan"].iloc[0]
    assert not w["testable"] and not w["tied_with_best"]
    from bench.report.captions import table_caption

    assert "Too few seeds for any conclusion" in table_caption(t)


def test_report_shows_ranking_and_win_matrix(tmp_path):
    from bench.report import write_report

    res = tmp_path / "results" / "s"
    res.mkdir(parents=True)
    _runs({"ns": [1, 2, 3], "wgan": [4, 5, 6], "lsgan": [2, 5, 8]}).to_parquet(res / "runs.parquet")
    html = write_report(res, tmp_path / "reports", n_boot=200, real_data=False)["html"].read_text()
    rank = html[html.index('id="rank-mnist-fid-0"'):]
    rank = rank[:rank.index("</table>")]
    assert "NS GAN" in rank and "1–1" in rank and "rank interval" in rank
    win = html[html.index('id="win-mnist-fid-0"'):]
    win = win[:win.index("</table>")]
    assert "0.83" in win and "1.00" in win and "0.50" in win  # 7.5/9, 9/9, 4.5/9
    assert "Too few seeds" not in html
    _runs({"ns": [1, 2], "wgan": [4, 5]}).to_parquet(res / "runs.parquet")
    html = write_report(res, tmp_path / "reports2", n_boot=200, real_data=False)["html"].read_text()
    assert "Too few seeds for any conclusion" in html
