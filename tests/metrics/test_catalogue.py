"""The metric catalogue: every key evaluation produces is declared, once, with its direction --
and each direction is checked against a small computed example."""
from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from bench.data import DATASETS, DatasetInfo
from bench.errors import MetricsError
from bench.metrics import (EXTRACTORS, METRICS, ClassifierConfig, Metric, class_metrics, evaluate,
                           fid_from_features, inception_score_from_logits, kid_from_features, lower_is_better,
                           metric, mixture_mode_metrics, prc_from_features)
from bench.metrics.catalogue import CAPABILITIES, find, keys_for
from bench.registry import Origin

# the set results.LOWER_IS_BETTER held before the catalogue: best-over-checkpoints keeps the
# per-key best in this direction, so stored best.* values depend on it
HISTORIC_LOWER = {"frechet_inception_distance", "kernel_inception_distance_mean", "mode_kl", "class_kl"}


def test_each_key_declared_once_with_unique_ids():
    assert all(k == m.key for k, m in METRICS.items())
    ids = [m.id for m in METRICS.values()]
    assert len(ids) == len(set(ids))
    assert all(set(m.needs) <= set(CAPABILITIES) for m in METRICS.values())


def test_evaluation_directions_are_the_historic_ones():
    assert {k for k, m in METRICS.items() if m.lower_is_better and m.kind != "cost"} == HISTORIC_LOWER


def test_lookup_and_unknown_key():
    fid = metric("frechet_inception_distance")
    assert isinstance(fid, Metric) and fid.id == "fid" and fid.label == "FID" and fid.format(6.849) == "6.8"
    assert find("fid") is fid and find("FID") is fid and find("metric.{which}.frechet_inception_distance") is fid
    assert lower_is_better("frechet_inception_distance") and not lower_is_better("inception_score_mean")
    with pytest.raises(MetricsError, match=r"unknown metric 'fidd'.*frechet_inception_distance"):
        metric("fidd")
    assert fid.better(1.0, 2.0) and not fid.better(2.0, 1.0) and not fid.better(1.0, 1.0)  # strict
    isc = metric("inception_score_mean")
    assert isc.better(2.0, 1.0) and not isc.better(1.0, 1.0)
    assert fid.better(1e30, fid.worst) and isc.better(-1e30, isc.worst)


def test_groups_produce_the_torch_fidelity_keys():
    from torch_fidelity.metric_fid import KEY_METRIC_FID
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD
    from torch_fidelity.metric_prc import KEY_METRIC_F_SCORE, KEY_METRIC_PRECISION, KEY_METRIC_RECALL

    assert keys_for("fid") == [KEY_METRIC_FID]
    assert keys_for("isc") == [KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD]
    assert keys_for("kid") == [KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD]
    # torch-fidelity's three, then density and coverage (Naeem et al. 2020) from the same features
    assert keys_for("prc") == [KEY_METRIC_PRECISION, KEY_METRIC_RECALL, KEY_METRIC_F_SCORE, "density", "coverage"]


def test_every_needed_capability_is_provided_by_some_extractor():
    provided = set().union(*(ex.capabilities for _, ex in EXTRACTORS.items()))
    for m in METRICS.values():
        if m.kind != "cost":
            assert set(m.needs) <= provided, m.key


def test_catalogue_import_is_light():
    code = "import sys, bench.metrics.catalogue as c; assert c.METRICS; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- directions against computed examples --------------------------------------------------
def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_fid_and_kid_lower_is_better():
    real = torch.randn(400, 4, generator=_g(0))
    near, far = real + 0.05 * torch.randn(400, 4, generator=_g(1)), real + 3.0
    for key, f in [("frechet_inception_distance", lambda x: fid_from_features(x, real)),
                   ("kernel_inception_distance_mean",
                    lambda x: kid_from_features(x, real, 100, 10)["kernel_inception_distance_mean"])]:
        assert metric(key).better(f(near), f(far)), key


def test_inception_score_higher_is_better():
    k, n = 10, 1000
    balanced = 60.0 * torch.nn.functional.one_hot(torch.arange(n) % k, k).float()
    one = torch.zeros(n, k)
    one[:, 0] = 60.0
    good = inception_score_from_logits(balanced, splits=1)["inception_score_mean"]
    bad = inception_score_from_logits(one, splits=1)["inception_score_mean"]
    assert metric("inception_score_mean").better(good, bad)


def test_precision_recall_higher_is_better():
    a = torch.randn(300, 8, generator=_g(2))
    same = prc_from_features(a, a.clone())
    far = prc_from_features(a + 1000.0, torch.randn(300, 8, generator=_g(3)))
    for key in ("precision", "recall", "f_score"):
        assert metric(key).better(same[key], far[key]), key


def test_mode_and_class_metrics_directions():
    modes = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]])
    spread = modes.repeat(100, 1)
    collapsed = modes[:1].repeat(400, 1)
    good = mixture_mode_metrics(spread, modes, 0.1)["values"]
    bad = mixture_mode_metrics(collapsed, modes, 0.1)["values"]
    assert metric("mode_kl").better(good["mode_kl"], bad["mode_kl"])
    assert metric("modes_covered").better(good["modes_covered"], bad["modes_covered"])
    good = class_metrics(torch.arange(500) % 10, 10)["values"]
    bad = class_metrics(torch.zeros(500, dtype=torch.long), 10)["values"]
    assert metric("class_kl").better(good["class_kl"], bad["class_kl"])
    assert bad["class_kl"] == pytest.approx(math.log(10))
    assert metric("classes_covered").better(good["classes_covered"], bad["classes_covered"])


# ---- every key evaluation produces is declared ------------------------------------------------
def test_points_evaluation_keys_are_declared():
    from bench.data import load

    ring = load("ring8", "test").x
    s = evaluate(lambda n: ring[:n], "ring8", dict(num_samples=400, kid_subset_size=100,
                                                    metrics=["fid", "isc", "kid", "prc"]))
    assert {"frechet_inception_distance", "mode_kl", "modes_covered", "precision"} <= set(s.values)
    assert set(s.values) <= set(METRICS), set(s.values) - set(METRICS)


def _tiny_digits(split, root):
    """3 classes of 8x8 grayscale blobs, 60 images per split."""
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    y = torch.arange(60) % 3
    x = torch.zeros(60, 1, 8, 8)
    for c in range(3):
        x[y == c, :, 2 * c:2 * c + 3, 1:7] = 1.0
    x = (x * 200 + 30 * torch.rand(60, 1, 8, 8, generator=g)).clamp(0, 255).to(torch.uint8)
    return x, y


@pytest.fixture
def tiny_images(monkeypatch):
    name = "test-tiny-digits"
    info = DatasetInfo(name, "image", (1, 8, 8), 3, "test images", _tiny_digits, needs_root=False)
    DATASETS.names()  # plugins first
    monkeypatch.setitem(DATASETS._items, name, info)
    monkeypatch.setitem(DATASETS._origins, name, Origin(__name__))
    return name


def test_image_evaluation_keys_are_declared(tiny_images, tmp_path):
    from bench.data import load

    x = load(tiny_images, "train").as_float()
    cfg = ClassifierConfig(epochs=1, min_steps=20, batch_size=30, width=4, feat_dim=8)
    s = evaluate(lambda n: x[:n], tiny_images, dict(num_samples=40, kid_subset_size=10, batch_size=20,
                                                    metrics=["fid", "isc", "kid", "prc"]),
                 cache_dir=str(tmp_path), classifier_config=cfg, isc_splits=2, kid_subsets=5)
    assert s.provenance["extractor"] == "classifier"
    produced = set(s.values)
    expected = {m.key for m in METRICS.values() if m.kind != "cost" and not (m.needs & {"mixture_modes"})}
    assert produced <= set(METRICS), produced - set(METRICS)
    assert expected - {"per_class_recall_min", "per_class_recall_mean"} <= produced
