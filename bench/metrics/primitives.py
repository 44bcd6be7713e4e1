"""Metric primitives: thin wrappers over torch-fidelity's own functions (features -> statistics
-> metric), so that tests and evaluate() reach the same code."""
from __future__ import annotations

from typing import Dict

import torch

__all__ = ["fid_from_statistics", "fid_from_features", "inception_score_from_logits", "kid_from_features",
           "prc_from_features", "density_coverage"]


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


def _kth_neighbour_radii(real: torch.Tensor, k: int, batch: int) -> torch.Tensor:
    """Distance of each real feature to its k-th nearest other real feature (the point itself,
    at distance 0, is the 0-th; as in Naeem et al.'s code, ``np.partition(d, k)[:, k]``)."""
    radii = torch.empty(len(real), dtype=real.dtype)
    for i in range(0, len(real), batch):
        d = torch.cdist(real[i:i + batch], real)
        radii[i:i + batch] = d.kthvalue(k + 1, dim=1).values
    return radii


def density_coverage(fake: torch.Tensor, real: torch.Tensor, neighborhood: int = 3,
                     batch: int = 2048) -> Dict[str, float]:
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
    Generative Models", their reference code ``prdc``): each real feature X_i gets the ball
    B(X_i, r_i), r_i its distance to its k-th nearest real neighbour (k = ``neighborhood``, the
    k of precision/recall);

    - density = 1/(k M) * sum_j #{i : |Y_j - X_i| < r_i}  (M generated features Y_j; about 1
      when fake and real come from the same distribution, above 1 when fakes crowd dense
      regions);
    - coverage = 1/N * #{i : some Y_j with |Y_j - X_i| < r_i}  (N real features; in [0, 1]).

    Distances are Euclidean, in float64, strict ``<`` as in ``prdc``. Needs more than k real
    features."""
    fake = fake.detach().cpu().double()
    real = real.detach().cpu().double()
    k = int(neighborhood)
    if len(real) <= k or len(fake) == 0:
        raise ValueError(f"density/coverage need more than {k} real and at least one generated feature "
                         f"(got {len(real)} real, {len(fake)} generated)")
    radii = _kth_neighbour_radii(real, k, batch)
    inside_total = 0.0
    covered = torch.zeros(len(real), dtype=torch.bool)
    for j in range(0, len(fake), batch):
        inside = torch.cdist(fake[j:j + batch], real) < radii[None, :]
        inside_total += float(inside.sum())
        covered |= inside.any(0)
    return {"density": inside_total / (k * len(fake)), "coverage": float(covered.double().mean())}
