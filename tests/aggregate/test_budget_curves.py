"""Budget curves (expected best score by configurations tried and by compute) against numbers
worked out by hand on small constructed search tables.

Notation: with K configurations drawn k times with replacement and ranked by their selection
score (lower FID is better), the best of k is configuration i with probability
((K - r_i) / K)^k - ((K - r_i - 1) / K)^k, r_i its 0-based rank."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench import aggregate as agg

BEST = "metric.best.frechet_inception_distance"
SELECT = "metric.select.frechet_inception_distance"
N_BOOT = 20000


def _run(sample, select, best, *, status="done", rung=None, d_steps=500, wall=2.0, loss="ns"):
    row = {"run_id": f"{loss}-s{sample}-r{rung}", "loss": loss, "dataset": "mnist", "seed": 0, "status": status,
           "search.phase": "wide", "search.config_id": f"cfg{sample}-{rung}", "search.sample": sample,
           "param.eval.selection": "validation", SELECT: select, BEST: best, "metric.select.precision": None,
           "counts.d_steps": d_steps, "cost.wall_s": wall}
    if rung is not None:
        row.update({"search.rung": rung, "search.rungs": 2})
    return row


def _curve(bc, by, col="mean"):
    return bc[bc["by"] == by].sort_values("k")[col].tolist()


# Three configurations whose validation (selection) and test (reported) scores disagree:
#   A: select 1, test 10;  B: select 2, test 5;  C: select 3, test 1.
# Chosen on the selection score, the best of k is A with P = 1 - (2/3)^k, B with (2/3)^k - (1/3)^k,
# C with (1/3)^k, and the curve reports their test scores:
#   k = 1: (10 + 5 + 1) / 3 = 16/3;  k = 2: 10 * 5/9 + 5 * 3/9 + 1/9 = 66/9;  k = 3: (190 + 35 + 1) / 27 = 226/27.
# Chosen on the test score itself the same draws would give, at k = 3, (19 * 1 + 7 * 5 + 10) / 27 = 64/27.
ABC = [_run(0, 1.0, 10.0), _run(1, 2.0, 5.0), _run(2, 3.0, 1.0)]


def test_best_of_k_is_chosen_on_the_selection_score_and_shows_the_reported_one():
    df = pd.DataFrame(ABC)
    bc = agg.budget_curves(df, "fid", n_boot=N_BOOT, seed=0)
    assert _curve(bc, "configurations", "k") == [1, 2, 3] and set(bc["K"]) == {3}
    assert _curve(bc, "configurations") == pytest.approx([16 / 3, 66 / 9, 226 / 27], abs=0.05)
    # the band holds reported scores of chosen configurations: C's 1 (P >= 1/27 > 2.5%) to A's 10
    assert _curve(bc, "configurations", "lo") == [1.0, 1.0, 1.0]
    assert _curve(bc, "configurations", "hi") == [10.0, 10.0, 10.0]
    # never the minimum of the reported scores: the curve rises towards A's test score
    assert _curve(bc, "configurations")[-1] > 8 > df[BEST].min()
    # the same table without selection scores (records before them) chooses on the reported score
    on_test = agg.budget_curves(df.drop(columns=[SELECT, "metric.select.precision"]), "fid", n_boot=N_BOOT, seed=0)
    assert _curve(on_test, "configurations") == pytest.approx([16 / 3, 1 * 5 / 9 + 5 * 3 / 9 + 10 / 9, 64 / 27],
                                                             abs=0.05)


def test_a_run_without_selection_scores_falls_back_to_its_reported_score():
    # C records no selection score at all (an older record) and a test score of 0.5: it is chosen on
    # that, the best of the selection values 1, 2, 0.5 -> the best of 3 is C whenever C is drawn
    rows = [dict(r) for r in ABC]
    rows[2].update(**{SELECT: None, BEST: 0.5})
    bc = agg.budget_curves(pd.DataFrame(rows), "fid", by="configurations", n_boot=N_BOOT, seed=0)
    # P(C among 3 draws) = 19/27 -> 0.5; else A (P = 8/27 - 1/27) -> 10, else only B -> 5
    assert _curve(bc, "configurations")[-1] == pytest.approx((19 * 0.5 + 7 * 10 + 1 * 5) / 27, abs=0.05)


def test_compute_axis_is_the_cumulative_d_steps_of_the_configurations():
    df = pd.DataFrame(ABC)
    bc = agg.budget_curves(df, "fid", by=agg.BUDGET_AXES, n_boot=2000, seed=3)
    assert set(bc["by"]) == {"configurations", "d_steps", "wall_s"}
    # 500 D steps (2 s) per configuration: budget k x 500 buys exactly k configurations, so the
    # compute curve is the configuration curve, draw for draw
    assert _curve(bc, "d_steps", "x") == [500.0, 1000.0, 1500.0]
    assert _curve(bc, "wall_s", "x") == pytest.approx([2.0, 4.0, 6.0])
    assert _curve(bc, "configurations", "d_steps") == [500.0, 1000.0, 1500.0]
    for col in ("mean", "lo", "hi", "p_none"):
        assert _curve(bc, "d_steps", col) == _curve(bc, "configurations", col)


# Successive halving, two rungs (100 then 300 D steps). A was promoted: rung 0 (select 2.5, test 9,
# superseded) and rung 1 (select 1, test 2): 400 D steps in all. B and C were stopped at rung 0
# (100 D steps each): B select 3 / test 3, C select 5 / test 0.5. The phase's compute is 600 D steps,
# 200 per configuration on average: budgets 200, 400, 600.
HALVING = [
    _run(0, 2.5, 9.0, rung=0, d_steps=100), _run(0, 1.0, 2.0, rung=1, d_steps=300),
    _run(1, 3.0, 3.0, rung=0, d_steps=100, status="stopped"),
    _run(2, 5.0, 0.5, rung=0, d_steps=100, status="stopped"),
]


def test_halving_configurations_count_every_rung_and_stopped_ones_their_last_rung():
    bc = agg.budget_curves(pd.DataFrame(HALVING), "fid", by=agg.BUDGET_AXES, n_boot=N_BOOT, seed=1)
    assert set(bc["K"]) == {3}  # three configurations, not four runs
    # by configurations: A (test 2 at its last rung) with P = 1 - (2/3)^k, B (3), C (0.5):
    #   k = 1: (2 + 3 + 0.5) / 3 = 11/6;  k = 3: (19 * 2 + 7 * 3 + 0.5) / 27 = 119/54
    conf = _curve(bc, "configurations")
    assert conf[0] == pytest.approx(11 / 6, abs=0.05) and conf[2] == pytest.approx(119 / 54, abs=0.05)
    assert _curve(bc, "configurations", "lo")[0] == 0.5  # stopped C is chosen (alone) at its rung-0 score
    # by D steps: x = k x 600 / 3 exactly
    assert _curve(bc, "d_steps", "x") == [200.0, 400.0, 600.0]
    # B_1 = 200: a draw starting with A (400) buys nothing: p_none = 1/3. Starting with B it buys B
    # (and C if next: B still best) -> 3; starting with C it buys B next with P 1/3 -> 3, else C -> 0.5:
    #   mean = 1/2 * 3 + 1/2 * (1/3 * 3 + 2/3 * 0.5) = 13/6
    # B_2 = 400: A is bought only when drawn first (-> 2); else B is bought, and wins, if drawn among the
    # configurations that fit: first B (-> 3); first C: then B (1/3), or C then B (1/9) -> 3, else 0.5:
    #   mean = 1/3 * 2 + 1/3 * 3 + 1/3 * (4/9 * 3 + 5/9 * 0.5) = 119/54
    # B_3 = 600: every draw holding A buys it (400 + 100 + 100 and 100 + 100 + 400 both fit) -> 119/54
    assert _curve(bc, "d_steps", "p_none") == pytest.approx([1 / 3, 0.0, 0.0], abs=0.015)
    assert _curve(bc, "d_steps") == pytest.approx([13 / 6, 119 / 54, 119 / 54], abs=0.05)


def test_unknown_d_steps_leave_out_only_the_compute_curve():
    rows = [dict(r) for r in ABC]
    rows[1].update(status="diverged", **{BEST: None, SELECT: None, "counts.d_steps": None})
    bc = agg.budget_curves(pd.DataFrame(rows), "fid", by=agg.BUDGET_AXES, n_boot=500)
    assert set(bc["by"]) == {"configurations", "wall_s"}
    assert np.isnan(_curve(bc, "configurations", "d_steps")).all()
    # a failed run that records no D steps trained none: it counts 0
    rows[1].update(status="failed")
    bc = agg.budget_curves(pd.DataFrame(rows), "fid", by="d_steps", n_boot=500)
    assert _curve(bc, "d_steps", "x") == pytest.approx([1000 / 3, 2000 / 3, 1000.0])


def test_by_names_an_axis():
    with pytest.raises(ValueError, match="by must be one of"):
        agg.budget_curves(pd.DataFrame(ABC), "fid", by="hours")
