"""Density and coverage (Naeem et al. 2020) on constructed point sets, and their place beside
precision/recall in evaluate()."""
import pytest
import torch

from bench.config import EvalSpec
from bench.metrics import evaluate
from bench.metrics.catalogue import keys_for, metric
from bench.metrics.primitives import density_coverage


def gauss(n, d=8, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_identical_sets():
    x = gauss(400)
    r = density_coverage(x.clone(), x)
    assert r["coverage"] == 1.0
    # each ball holds its centre and the k - 1 nearer neighbours (strict <): k fakes per ball,
    # density 1 -- up to rounding at the ball's edge, where the k-th neighbour itself sits
    assert r["density"] == pytest.approx(1.0, abs=0.01)


def test_same_distribution_density_near_one():
    r = density_coverage(gauss(2000, seed=1), gauss(2000, seed=2))
    assert r["density"] == pytest.approx(1.0, abs=0.1) and r["coverage"] == pytest.approx(1 - 0.5 ** 3, abs=0.05)  # Naeem et al.: E = 1 - 1/2^k


def test_disjoint_far_apart_sets():
    x = gauss(300)
    r = density_coverage(x + 1000.0, x)
    assert r == {"density": 0.0, "coverage": 0.0}


def test_hand_computed_case():
    # real on a line at 0, 1, 3; k = 1: radii 1, 1, 2.
    real = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    # fake 0.5 falls in the balls of 0 and 1; 0.6 likewise; 10 in none.
    fake = torch.tensor([[0.5, 0.0], [0.6, 0.0], [10.0, 0.0]])
    r = density_coverage(fake, real, neighborhood=1)
    assert r["density"] == pytest.approx(4 / 3)  # (2 + 2 + 0) / (k * M) = 4 / 3
    assert r["coverage"] == pytest.approx(2 / 3)  # reals 0 and 1 have a fake in their ball, 3 has none
    # k = 2: radii 3 (0 -> 3), 2 (1 -> 3), 3 (3 -> 0); 0.5 and 0.6 in all three balls, 10 in none
    r2 = density_coverage(fake, real, neighborhood=2)
    assert r2["density"] == pytest.approx(6 / 6) and r2["coverage"] == 1.0


def test_too_few_real_features():
    with pytest.raises(ValueError):
        density_coverage(gauss(10), gauss(3))


def test_catalogue_and_evaluate_points():
    assert {"density", "coverage"} <= set(keys_for("prc"))
    assert metric("density").higher_is_better and metric("coverage").higher_is_better
    from bench.data import load

    ref = load("ring8", "test")
    s = evaluate(lambda n: ref.x[:n].float(), "ring8", EvalSpec(num_samples=500, num_real=500, metrics=["prc"]))
    assert 0 < s.values["coverage"] <= 1 and s.values["density"] > 0
    assert s.values["precision"] > 0


def test_fidelity_wrapper_adds_density_coverage_from_prc_features(monkeypatch):
    """The images path: density/coverage from the very features torch-fidelity's prc receives,
    and the original prc function is restored afterwards."""
    import torch_fidelity.metrics as tfm

    from bench.metrics.fidelity import _density_coverage_from_prc_features

    orig = tfm.prc_featuresdict_to_metric
    out = {}
    x = gauss(50)
    with _density_coverage_from_prc_features(out, True):
        res = tfm.prc_featuresdict_to_metric({"f": x}, {"f": x.clone()}, "f", prc_neighborhood=3, verbose=False)
    assert tfm.prc_featuresdict_to_metric is orig
    assert res["precision"] == 1.0 and out["coverage"] == 1.0 and out["density"] == pytest.approx(1.0, abs=0.01)
