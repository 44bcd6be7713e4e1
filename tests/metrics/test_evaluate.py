"""evaluate(): IS / precision-recall on constructed inputs, settings that are refused, and an
end-to-end run on mnist-5k with the project classifier (reference caching included)."""
import math
import urllib.error

import pytest
import torch

from bench.config import EvalSpec
from bench.data import load
from bench.metrics import (IMAGES_SEEN, MetricsError, NonFiniteSamples, Scores, evaluate,
                           inception_score_from_logits, prc_from_features)
from bench.metrics.extractors import CLASSIFIER_NAME


# ----------------------------------------------------------------------------- IS and PRC

@pytest.mark.parametrize("k", [2, 10, 25])
def test_is_of_confident_evenly_used_classes_is_k(k):
    n = 100 * k
    logits = 60.0 * torch.nn.functional.one_hot(torch.arange(n) % k, k).float()
    assert inception_score_from_logits(logits, splits=1)["inception_score_mean"] == pytest.approx(k, rel=1e-6)
    # 10 unshuffled splits, each still using every class evenly
    out = inception_score_from_logits(logits, splits=10, shuffle=False)
    assert out["inception_score_mean"] == pytest.approx(k, rel=1e-6)
    assert out["inception_score_std"] == pytest.approx(0.0, abs=1e-6)


def test_is_of_one_constant_class_is_one():
    logits = torch.zeros(500, 10)
    logits[:, 3] = 60.0
    assert inception_score_from_logits(logits)["inception_score_mean"] == pytest.approx(1.0, abs=1e-9)
    # uniform predictions also give 1 (no confidence)
    assert inception_score_from_logits(torch.zeros(500, 10))["inception_score_mean"] == pytest.approx(1.0)


def test_precision_recall_identical_and_disjoint_sets():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 8, generator=g)
    same = prc_from_features(a, a.clone())
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["f_score"] == pytest.approx(1.0)
    far = prc_from_features(a + 1000.0, torch.randn(300, 8, generator=g))
    assert far["precision"] == 0.0 and far["recall"] == 0.0


def test_precision_recall_half_overlap():
    # generated = half the real set + far points: precision 0.5, recall ~ the covered half
    g = torch.Generator().manual_seed(1)
    real = torch.randn(400, 4, generator=g)
    fake = torch.cat([real[:200], real[:200] + 1e4])
    out = prc_from_features(fake, real)
    assert out["precision"] == pytest.approx(0.5)
    assert out["recall"] >= 0.5  # at least the 200 real points that are in the generated set


# ----------------------------------------------------------------------------- refused settings

def ring(n):
    return load("ring8", "test").x[:n]


def test_unknown_extractor_lists_valid_ones():
    with pytest.raises(MetricsError, match=r"eval\.extractor.*'incepshun'.*classifier, inception, inception-offline"):
        evaluate(ring, "ring8", EvalSpec(extractor="incepshun"))


def test_unknown_metric():
    with pytest.raises(MetricsError, match=r"eval\.metrics.*'fidd'.*fid, isc, kid, prc"):
        evaluate(ring, "ring8", EvalSpec(metrics=["fidd"], num_samples=100))


def test_kid_subset_larger_than_samples():
    with pytest.raises(MetricsError, match=r"eval\.kid_subset_size = 1000.*eval\.num_samples \(500\)"):
        evaluate(ring, "ring8", EvalSpec(num_samples=500, metrics=["kid"]))
    with pytest.raises(MetricsError, match=r"eval\.kid_subset_size = 300.*num_real \(200\)"):
        evaluate(ring, "ring8", EvalSpec(num_samples=500, num_real=200, kid_subset_size=300, metrics=["kid"]))
    # without kid in the metrics the subset size does not matter
    evaluate(ring, "ring8", EvalSpec(num_samples=500, metrics=["fid"]))


def test_num_real_larger_than_split():
    with pytest.raises(MetricsError, match=r"eval\.num_real = 2000.*'test' \(1000 samples\)"):
        evaluate(ring, "mnist-5k", EvalSpec(num_samples=100, num_real=2000, metrics=["fid"]))


def test_bad_ref_split_and_extractor_kind():
    with pytest.raises(MetricsError, match=r"eval\.ref_split"):
        evaluate(ring, "ring8", EvalSpec(ref_split="valid"))
    with pytest.raises(MetricsError, match=r"'modes' is for 2-D"):
        evaluate(ring, "mnist-5k", EvalSpec(extractor="modes"))
    with pytest.raises(MetricsError, match=r"2-D points"):
        evaluate(ring, "ring8", EvalSpec(extractor="classifier"))


def test_classifier_refused_for_unlabelled_dataset():
    # refused before any data is touched (CelebA is not on this machine)
    with pytest.raises(MetricsError, match=r"'classifier' needs class labels.*'celeba' is unlabelled"):
        evaluate(ring, "celeba", EvalSpec(extractor="classifier"))


def test_inception_weights_path_missing_file(tmp_path):
    with pytest.raises(MetricsError, match=r"eval\.weights_path"):
        evaluate(ring, "mnist-5k", EvalSpec(extractor="inception", weights_path=str(tmp_path / "nope.pth")))


def test_inception_without_network_explains_alternatives(monkeypatch, tmp_path):
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    def no_net(*a, **k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fe, "load_state_dict_from_url", no_net)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    x = load("mnist-5k", "test").as_float()
    with pytest.raises(MetricsError) as ei:
        evaluate(lambda n: x[:n], "mnist-5k", EvalSpec(extractor="inception", num_samples=8, metrics=["fid"]),
                 cache_dir=str(tmp_path))
    msg = str(ei.value)
    assert "weights_path" in msg and "feature_extractor_weights_path" in msg
    assert "inception-offline" in msg and "classifier" in msg


def test_non_finite_and_wrong_shape_samples():
    with pytest.raises(NonFiniteSamples):
        evaluate(lambda n: torch.full((n, 2), float("nan")), "ring8", EvalSpec(num_samples=100, metrics=[]))
    with pytest.raises(MetricsError, match=r"shape"):
        evaluate(lambda n: torch.zeros(n, 3), "ring8", EvalSpec(num_samples=100, metrics=[]))


def test_extractor_none_and_unknown_dataset():
    s = evaluate(ring, "ring8", EvalSpec(extractor="none"))
    assert s.values == {} and s.collapsed is None
    with pytest.raises(MetricsError, match=r"unknown dataset"):
        evaluate(ring, "mnist5k", EvalSpec())


def test_unknown_extra_argument():
    with pytest.raises(MetricsError, match=r"unknown argument 'kid_subset'"):
        evaluate(ring, "ring8", EvalSpec(), kid_subset=3)


# ----------------------------------------------------------------------------- end to end, mnist-5k

@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("ganbench-cache"))


@pytest.fixture(scope="module")
def mnist5k():
    return load("mnist-5k", "train"), load("mnist-5k", "test")


SPEC = dict(num_samples=1000, kid_subset_size=200, batch_size=250)


def test_end_to_end_real_images_score_well_and_reference_is_cached(cache, mnist5k):
    train, test = mnist5k
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:1000]
    fake = train.as_float(idx)
    s = evaluate(lambda n: fake[:n], "mnist-5k", EvalSpec(**SPEC), cache_dir=cache)
    assert isinstance(s, Scores)
    v, p = s.values, s.provenance
    assert p["extractor"] == "classifier" and p["classifier_test_accuracy"] >= 0.95
    assert p["n_fake"] == 1000 and p["n_real"] == 1000 and p["ref_split"] == "test"
    assert len(p["extractor_weights_sha256"]) == 64 and p["torch_fidelity_version"] == "0.4.0"
    assert p["reference_cached"] is False
    assert v["classes_covered"] == 10 and s.collapsed is False
    assert v["class_kl"] < 0.02
    assert v["inception_score_mean"] > 8.5  # near 10: confident, balanced classes
    assert v["frechet_inception_distance"] < 5
    assert v["precision"] > 0.7 and v["recall"] > 0.7
    assert v["per_class_recall_min"] > 0.5
    assert len(s.per_class["class_recall"]) == 10
    d = s.to_dict()
    assert d["values"]["classes_covered"] == 10 and d["collapsed"] is False

    # second evaluation against the same reference: only the generated images are extracted
    before = IMAGES_SEEN[CLASSIFIER_NAME]
    s2 = evaluate(lambda n: fake[:n], "mnist-5k", EvalSpec(**SPEC), cache_dir=cache)
    assert IMAGES_SEEN[CLASSIFIER_NAME] - before == 1000
    assert s2.provenance["reference_cached"] is True
    for k in ("frechet_inception_distance", "inception_score_mean", "precision", "recall", "classes_covered"):
        assert s2.values[k] == pytest.approx(v[k], rel=1e-6)


def test_end_to_end_collapsed_generators(cache, mnist5k):
    train, test = mnist5k
    first = {c: int((train.y == c).nonzero()[0]) for c in range(10)}
    # one digit repeated: one class, collapsed
    one = train.as_float(torch.tensor([first[7]] * 1000))
    s = evaluate(lambda n: one[:n], "mnist-5k", EvalSpec(**SPEC), cache_dir=cache)
    assert s.values["classes_covered"] == 1 and s.collapsed is True
    assert s.values["class_kl"] == pytest.approx(math.log(10), abs=1e-9)
    assert s.values["inception_score_mean"] == pytest.approx(1.0, abs=0.05)
    # ten distinct digits, each repeated: classes all covered, but each collapsed
    ten = train.as_float(torch.tensor([first[c] for c in range(10)] * 100))
    s = evaluate(lambda n: ten[:n], "mnist-5k", EvalSpec(**SPEC), cache_dir=cache)
    assert s.values["classes_covered"] == 10 and s.collapsed is False
    assert s.values["per_class_recall_min"] < 0.1
    assert s.values["recall"] < 0.1


def test_subset_reference_and_metric_subset(cache, mnist5k):
    train, test = mnist5k
    fake = train.as_float(torch.arange(0, 4000, 8))
    s = evaluate(lambda n: fake[:n], "mnist-5k", EvalSpec(num_samples=500, num_real=600, metrics=["fid"]),
                 cache_dir=cache)
    assert set(k for k in s.values if not k.startswith(("class", "num_", "per_"))) == {"frechet_inception_distance"}
    assert s.provenance["n_real"] == 600 and "random subset" in s.provenance["ref_subset"]
