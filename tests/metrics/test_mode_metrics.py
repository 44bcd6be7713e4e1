"""Mode-collapse metrics on constructed samples, against counts and KL computed by hand."""
import math

import pytest
import torch

from bench.config import EvalSpec
from bench.data import load, to_model_space
from bench.data.toy import grid25_modes, ring8_modes
from bench.metrics import (class_metrics, coverage_threshold, evaluate, kl_to_uniform, mixture_mode_metrics,
                           per_class_precision_recall)

STD = 0.02


def at_modes(modes, counts, jitter=0.5 * STD, seed=0):
    """counts[k] points within `jitter` of mode k (all well inside 3 std)."""
    g = torch.Generator().manual_seed(seed)
    pts = []
    for k, c in enumerate(counts):
        pts.append(modes[k] + jitter * (torch.rand(c, 2, generator=g) * 2 - 1) / math.sqrt(2))
    return torch.cat(pts)


def test_threshold_is_pacgan_20_of_2500_scaled():
    assert coverage_threshold(2500) == 20
    assert coverage_threshold(10000) == 80
    assert coverage_threshold(1000) == 8


def test_all_modes():
    modes = ring8_modes()
    counts = [313] * 4 + [312] * 4  # 2,500
    r = mixture_mode_metrics(at_modes(modes, counts), modes, STD)
    p = [c / 2500 for c in counts]
    kl = sum(q * math.log(q * 8) for q in p)
    assert r["values"]["modes_covered"] == 8
    assert r["values"]["high_quality_fraction"] == 1.0
    assert r["values"]["mode_kl"] == pytest.approx(kl, abs=1e-12)
    assert r["counts"] == counts
    assert r["collapsed"] is False


def test_half_the_modes_with_off_mode_samples():
    modes = ring8_modes()
    counts = [500, 500, 500, 500, 0, 0, 0, 0]
    x = torch.cat([at_modes(modes, counts), torch.zeros(500, 2)])  # 500 at the origin: low quality
    r = mixture_mode_metrics(x, modes, STD)
    assert r["values"]["modes_covered"] == 4
    assert r["values"]["high_quality_fraction"] == pytest.approx(2000 / 2500)
    assert r["values"]["mode_kl"] == pytest.approx(math.log(2), abs=1e-12)
    assert r["collapsed"] is False  # 4 of 8 is not fewer than half


def test_one_mode_and_threshold_edges():
    modes = grid25_modes()
    counts = [2400] + [0] * 24
    r = mixture_mode_metrics(at_modes(modes, counts, jitter=0.02), modes, 0.05)
    assert r["values"]["modes_covered"] == 1
    assert r["values"]["mode_kl"] == pytest.approx(math.log(25), abs=1e-12)
    assert r["collapsed"] is True
    # n = 2500: 20 samples count, 19 do not
    counts = [2461, 20, 19] + [0] * 22
    r = mixture_mode_metrics(at_modes(modes, counts, jitter=0.02), modes, 0.05)
    assert r["values"]["modes_covered"] == 2
    assert r["counts"][:3] == [2461, 20, 19]


def test_points_just_outside_three_std_are_low_quality():
    modes = ring8_modes()
    x = modes[:1] + torch.tensor([[3.05 * STD, 0.0], [2.95 * STD, 0.0]])
    r = mixture_mode_metrics(x, modes, STD)
    assert r["values"]["high_quality_fraction"] == 0.5


def test_no_high_quality_samples_leaves_kl_undefined():
    r = mixture_mode_metrics(torch.zeros(100, 2), ring8_modes(), STD)
    assert r["values"]["modes_covered"] == 0 and r["values"]["high_quality_fraction"] == 0
    assert "mode_kl" not in r["values"]
    assert kl_to_uniform(torch.zeros(4)) is None


@pytest.mark.parametrize("counts,covered", [([313] * 4 + [312] * 4, 8), ([625] * 4 + [0] * 4, 4), ([2500] + [0] * 7, 1)])
def test_evaluate_on_ring8(counts, covered):
    x = at_modes(ring8_modes(), counts)
    spec = EvalSpec(num_samples=2500, metrics=["fid", "prc"], extractor="auto")
    s = evaluate(lambda n: x[:n], "ring8", spec)
    assert s.values["modes_covered"] == covered
    assert s.values["high_quality_fraction"] == 1.0
    p = torch.tensor(counts, dtype=torch.float64) / 2500
    nz = p > 0
    assert s.values["mode_kl"] == pytest.approx(float((p[nz] * (p[nz] * 8).log()).sum()), abs=1e-9)
    assert s.collapsed is (covered < 4)
    assert s.provenance["extractor"] == "modes"
    assert s.per_class["mode_counts"] == counts
    # fid on raw coordinates: collapsed samples are further from the data
    assert s.values["frechet_inception_distance"] >= 0


def test_evaluate_ring8_real_data_scores_well():
    ref = load("ring8", "train")
    s = evaluate(lambda n: ref.x[:n], "ring8", EvalSpec(num_samples=5000, kid_subset_size=200))
    assert s.values["modes_covered"] == 8
    assert s.values["high_quality_fraction"] > 0.98
    assert s.values["mode_kl"] < 0.01
    assert s.values["frechet_inception_distance"] < 0.01
    assert s.values["precision"] > 0.9 and s.values["recall"] > 0.9
    assert "isc" in s.provenance["unavailable"] and "inception_score_mean" not in s.values


def test_class_metrics_by_hand():
    pred = torch.tensor([0] * 500 + [1] * 300 + [2] * 190 + [3] * 10)  # n = 1000 -> threshold 8
    r = class_metrics(pred, 10)
    assert r["values"]["classes_covered"] == 4
    p = [0.5, 0.3, 0.19, 0.01]
    assert r["values"]["class_kl"] == pytest.approx(sum(q * math.log(10 * q) for q in p), abs=1e-12)
    assert r["collapsed"] is True
    r = class_metrics(torch.arange(1000) % 10, 10)
    assert r["values"]["classes_covered"] == 10 and r["values"]["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert r["collapsed"] is False


def test_per_class_recall_catches_collapse_within_classes():
    g = torch.Generator().manual_seed(0)
    k, per = 4, 200
    centers = torch.randn(k, 16, generator=g) * 50
    real = torch.cat([centers[c] + torch.randn(per, 16, generator=g) for c in range(k)])
    labels = torch.arange(k).repeat_interleave(per)
    # diverse generator: fresh samples of each class
    fake = torch.cat([centers[c] + torch.randn(per, 16, generator=g) for c in range(k)])
    good = per_class_precision_recall(fake, labels, real, labels, k)
    assert min(good["class_recall"]) > 0.6
    # distinct classes, each collapsed to one point (repeated)
    fake_c = centers.repeat_interleave(per, 0) + 0.0
    bad = per_class_precision_recall(fake_c, labels, real, labels, k)
    assert max(bad["class_recall"]) < 0.05
    # a missing class gets recall 0
    miss = per_class_precision_recall(fake[labels != 3], labels[labels != 3], real, labels, k)
    assert miss["class_recall"][3] == 0.0 and miss["class_precision"][3] is None
