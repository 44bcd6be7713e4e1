"""Metric primitives: thin wrappers over torch-fidelity's own functions (features -> statistics
-> metric), so that tests and evaluate() reach the same code."""
from __future__ import annotations

from typing import Dict

import torch

__all__ = ["fid_from_statistics", "fid_from_features", "inception_score_from_logits", "kid_from_features",
           "prc_from_features"]


def fid_from_statistics(mu1, sigma1, mu2, sigma2) -> float:
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    return fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2},
                                    False)["frechet_inception_distance"]


def fid_from_features(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """FID between two feature sets (N×D) exactly as torch-fidelity computes it."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    s1 = fid_features_to_statistics(f1.detach().cpu().float())
    s2 = fid_features_to_statistics(f2.detach().cpu().float())
    return fid_statistics_to_metric(s1, s2, False)["frechet_inception_distance"]


def inception_score_from_logits(logits: torch.Tensor, splits: int = 10, shuffle: bool = True,
                                rng_seed: int = 2020) -> Dict[str, float]:
    from torch_fidelity.metric_isc import isc_features_to_metric

    return isc_features_to_metric(logits.detach().cpu(), splits, shuffle, rng_seed)


def kid_from_features(fake: torch.Tensor, real: torch.Tensor, subset_size: int = 1000, subsets: int = 100,
                      rng_seed: int = 2020) -> Dict[str, float]:
    from torch_fidelity.metric_kid import kid_features_to_metric

    return kid_features_to_metric(fake.detach().cpu().float(), real.detach().cpu().float(),
                                  kid_subset_size=subset_size, kid_subsets=subsets, rng_seed=rng_seed, verbose=False)


def prc_from_features(fake: torch.Tensor, real: torch.Tensor, neighborhood: int = 3) -> Dict[str, float]:
    """Precision (fake inside the real manifold) and recall (real inside the fake manifold)."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    return prc_features_to_metric(fake.detach().cpu().float(), real.detach().cpu().float(),
                                  prc_neighborhood=neighborhood, verbose=False)
