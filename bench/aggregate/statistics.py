"""Statistics of per-seed scores: seeded bootstrap confidence interval of the mean and the
two-sided Mann-Whitney U test (with the smallest p-value a sample size allows)."""
from __future__ import annotations

import math
import zlib
from typing import Iterable

import numpy as np
from scipy import stats

__all__ = ["bootstrap_ci", "mann_whitney_p", "min_mann_whitney_p", "stable_seed"]


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
