"""Statistics of per-seed scores: seeded bootstrap confidence interval of the mean; the report's
one rule of significance -- bootstrap rank intervals over seeds (:func:`rank_intervals`) -- and
pairwise win probabilities (:func:`win_probability`). The Mann-Whitney U helpers stay for
callers outside the report.

The rule (used for every mark in every table): within a column, seeds are resampled with
replacement within each objective, the objectives are ranked by their resampled means (1 =
best, ties share the better rank), ``n_boot`` times; an objective's rank interval is the
central ``confidence`` share of its ranks (2.5th-97.5th percentile at 95%). An objective is
*not distinguishable from the best* when its interval reaches rank 1; the best by mean is
marked best. With fewer than :data:`MIN_SEEDS` scored seeds for any objective of a column, no
conclusion is drawn and nothing is marked.

The win probability of a over b is exact, over all seed pairs: P(a_i better than b_j) + ½
P(tie), i in a's seeds, j in b's (the probability of superiority, the Mann-Whitney U statistic
divided by n_a n_b).
"""
from __future__ import annotations

import math
import zlib
from typing import Iterable

import numpy as np
from scipy import stats

__all__ = ["bootstrap_ci", "mann_whitney_p", "min_mann_whitney_p", "stable_seed", "win_probability",
           "rank_intervals", "MIN_SEEDS"]

MIN_SEEDS = 3  # fewer scored seeds than this for any objective of a column: no conclusion


def stable_seed(seed: int, key: Iterable) -> list[int]:
    """A bootstrap seed for one cell: the user's seed and a checksum of the cell's key."""
    return [int(seed), zlib.crc32("\x1f".join(map(str, key)).encode())]


def bootstrap_ci(x: np.ndarray, n_boot: int = 2000, confidence: float = 0.95, seed=0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (seeded, deterministic)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return (math.nan, math.nan)
    if len(x) == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return (float(lo), float(hi))


def mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; NaN when a side is empty."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def min_mann_whitney_p(n1: int, n2: int) -> float:
    """The smallest two-sided exact Mann-Whitney p-value samples of sizes n1 and n2 can give
    (complete separation): 2 / C(n1 + n2, n1). Above alpha, the test has no power at all."""
    if n1 == 0 or n2 == 0:
        return math.nan
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def win_probability(x, y, higher_is_better: bool) -> float:
    """P(a seed of x scores better than a seed of y), exact over all pairs, ties counting ½;
    NaN when a side is empty."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    d = x[:, None] - y[None, :]
    better = (d > 0) if higher_is_better else (d < 0)
    return float((better.sum() + 0.5 * (d == 0).sum()) / d.size)


def rank_intervals(values: list, higher_is_better: bool, n_boot: int = 2000, confidence: float = 0.95,
                   seed=0) -> dict:
    """Bootstrap ranks of K objectives from their per-seed scores ``values`` (a list of arrays,
    each non-empty). Returns arrays ``rank`` (of the observed means), ``rank_lo``, ``rank_hi``
    (the central ``confidence`` interval of the bootstrap ranks, percentiles taken as observed
    ranks) and ``p_first`` (share of draws ranking the objective first); 1 = best, ties share
    the better (smaller) rank."""
    from scipy.stats import rankdata

    k = len(values)
    vals = [np.asarray(v, float) for v in values]
    sign = -1.0 if higher_is_better else 1.0
    obs = np.array([sign * v.mean() for v in vals])
    rank = rankdata(obs, method="min")
    rng = np.random.default_rng(seed)
    means = np.empty((n_boot, k))
    for i, v in enumerate(vals):
        idx = rng.integers(0, len(v), size=(n_boot, len(v)))
        means[:, i] = sign * v[idx].mean(axis=1)
    ranks = rankdata(means, method="min", axis=1)
    a = (1.0 - confidence) / 2.0
    lo = np.quantile(ranks, a, axis=0, method="lower")
    hi = np.quantile(ranks, 1.0 - a, axis=0, method="higher")
    return {"rank": rank.astype(int), "rank_lo": lo.astype(int), "rank_hi": hi.astype(int),
            "p_first": (ranks == 1).mean(axis=0)}
