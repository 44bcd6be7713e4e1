"""FID through the code path evaluate() uses (torch-fidelity's statistics and Fréchet distance,
and a full calculate_metrics call with a registered extractor), against closed forms computed
here independently."""

import numpy as np
import pytest
import scipy.linalg
import torch
from torch_fidelity import register_feature_extractor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from bench.metrics import fid_from_features, fid_from_statistics, fidelity_metrics

D = 8


def closed_form_diag(mu1, var1, mu2, var2):
    """||mu1 - mu2||^2 + sum(var1 + var2 - 2 sqrt(var1 var2)) for diagonal covariances."""
    mu1, var1, mu2, var2 = (np.asarray(a, dtype=np.float64) for a in (mu1, var1, mu2, var2))
    return float(((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum())


def hadamard_set(mu, scale, n=64):
    """n points whose sample mean is exactly mu and sample covariance exactly
    diag(scale^2 * n / (n - 1)): columns of a Hadamard matrix are orthogonal, ±1, zero-mean
    (the all-ones column excluded)."""
    h = scipy.linalg.hadamard(n)[:, 1:len(mu) + 1].astype(np.float64)
    return np.asarray(mu)[None, :] + h * np.asarray(scale)[None, :]


def test_fid_of_a_set_with_itself_is_zero():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(600, 32, generator=g) * 3 + 1
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-6 * 32 * 9)


def test_fid_matches_closed_form_exact_diagonal_sets():
    mu1 = np.array([0.0, 1, 2, 3, -1, 0.5, 4, -2])
    mu2 = np.array([1.0, 1, 0, 3, 2, -0.5, 4, 0])
    s1 = np.array([1.0, 2, 3, 1, 0.5, 2, 1, 4])
    s2 = np.array([2.0, 2, 1, 3, 0.5, 1, 4, 1])
    n = 64
    a, b = hadamard_set(mu1, s1, n), hadamard_set(mu2, s2, n)
    var1, var2 = s1 ** 2 * n / (n - 1), s2 ** 2 * n / (n - 1)
    expected = closed_form_diag(mu1, var1, mu2, var2)
    got = fid_from_features(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert got == pytest.approx(expected, rel=1e-5)
    # statistics entry point, float64
    got2 = fid_from_statistics(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got2 == pytest.approx(expected, rel=1e-10)


def test_fid_of_gaussian_samples_approaches_closed_form():
    g = torch.Generator().manual_seed(1)
    n, d = 40000, 4
    mu1, mu2 = torch.tensor([0.0, 1.0, -1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0, 0.0])
    sd1, sd2 = torch.tensor([1.0, 2.0, 0.5, 1.0]), torch.tensor([2.0, 1.0, 0.5, 3.0])
    a = mu1 + sd1 * torch.randn(n, d, generator=g)
    b = mu2 + sd2 * torch.randn(n, d, generator=g)
    expected = closed_form_diag(mu1, sd1 ** 2, mu2, sd2 ** 2)  # = 6 + 1+1+0+4 = 12
    assert expected == pytest.approx(12.0)
    assert fid_from_features(a, b) == pytest.approx(expected, rel=0.02)


class PixelFeatures(FeatureExtractorBase):
    """Test extractor: the first D pixel values of channel 0, as floats."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)

    @staticmethod
    def get_provided_features_list():
        return ("pix",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "pix"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 4, 4, dtype=torch.uint8)

    def forward(self, x):
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        return (x[:, 0].flatten(1)[:, :D].float(),)


if "test-pixels" not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor("test-pixels", PixelFeatures)


def as_images(feats: np.ndarray) -> torch.Tensor:
    """Integer features -> uint8 1×4×4 images whose first D pixels hold them."""
    n = feats.shape[0]
    img = np.zeros((n, 16), dtype=np.uint8)
    img[:, :D] = feats.astype(np.uint8)
    return torch.from_numpy(img).reshape(n, 1, 4, 4)


def test_fid_through_calculate_metrics_matches_closed_form(tmp_path):
    mu1 = np.array([100.0, 120, 90, 100, 80, 110, 100, 100])
    mu2 = np.array([110.0, 100, 90, 130, 80, 100, 105, 95])
    s1 = np.array([10.0, 20, 5, 8, 3, 12, 6, 1])
    s2 = np.array([20.0, 10, 5, 4, 6, 12, 2, 9])
    n = 64
    a, b = hadamard_set(mu1, s1, n), hadamard_set(mu2, s2, n)
    expected = closed_form_diag(mu1, s1 ** 2 * n / (n - 1), mu2, s2 ** 2 * n / (n - 1))
    for cache in (None, "ref-a", "ref-a"):  # uncached, then cache written, then cache read
        out = fidelity_metrics(as_images(a), as_images(b), "test-pixels", ["fid"], batch_size=16,
                               ref_cache_name=cache, cache_dir=str(tmp_path))
        assert out["frechet_inception_distance"] == pytest.approx(expected, rel=1e-5)
    assert any(p.name.startswith("ref-a-") for p in (tmp_path / "fidelity").iterdir())
    same = fidelity_metrics(as_images(a), as_images(a), "test-pixels", ["fid", "prc"], batch_size=16)
    assert same["frechet_inception_distance"] == pytest.approx(0.0, abs=1e-6)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
