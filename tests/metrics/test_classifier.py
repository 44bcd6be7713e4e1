"""The classifier extractor: trains, caches (atomically), reloads without retraining, and reaches
the target accuracies (real MNIST / Fashion-MNIST from $GANBENCH_DATA: slow tests)."""
import os
from pathlib import Path

import pytest
import torch

import bench.metrics.classifier as clf
from bench.metrics.classifier import ClassifierConfig, ClassifierUnavailable, get_classifier, load_classifier

TINY = ClassifierConfig(epochs=1, min_steps=1, batch_size=256, width=4, feat_dim=16)


def counting(monkeypatch):
    calls = []
    real = clf.train_classifier

    def wrapped(*a, **k):
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(clf, "train_classifier", wrapped)
    return calls


def test_trains_caches_and_reloads_without_retraining(monkeypatch, tmp_path):
    calls = counting(monkeypatch)
    p1, meta1 = get_classifier("mnist-5k", cache_dir=str(tmp_path), cfg=TINY)
    assert calls == ["mnist-5k"] and p1.exists()
    assert p1.parent == tmp_path / "classifiers"
    assert not [f for f in p1.parent.iterdir() if f.suffix == ".tmp"]  # atomic write left no temp file
    p2, meta2 = get_classifier("mnist-5k", cache_dir=str(tmp_path), cfg=TINY)
    assert calls == ["mnist-5k"], "second call retrained"
    assert p2 == p1 and meta2 == meta1
    assert 0.0 <= meta1["test_accuracy"] <= 1.0 and meta1["n_train"] == 4000 and meta1["n_test"] == 1000
    # another training configuration is another cache entry
    p3, _ = get_classifier("mnist-5k", cache_dir=str(tmp_path), cfg=ClassifierConfig(**{**TINY.__dict__, "seed": 1}))
    assert p3 != p1 and calls == ["mnist-5k", "mnist-5k"]
    # the cache folder comes from $GANBENCH_CACHE when no cache_dir is given
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    p4, _ = get_classifier("mnist-5k", cfg=TINY)
    assert p4 == p1 and len(calls) == 2
    model, meta = load_classifier(p1)
    assert meta["weights_sha256"] == meta1["weights_sha256"]


def test_training_is_deterministic():
    a = clf.train_classifier("mnist-5k", TINY)
    b = clf.train_classifier("mnist-5k", TINY)
    assert a["meta"]["weights_sha256"] == b["meta"]["weights_sha256"]


def test_refused_for_unlabelled_and_point_datasets(tmp_path):
    with pytest.raises(ClassifierUnavailable, match="unlabelled"):
        get_classifier("celeba", cache_dir=str(tmp_path))
    with pytest.raises(ClassifierUnavailable, match="image dataset"):
        get_classifier("ring8", cache_dir=str(tmp_path))


def test_mnist5k_default_classifier_accuracy(tmp_path):
    path, meta = get_classifier("mnist-5k", cache_dir=str(tmp_path))
    print(f"mnist-5k classifier: test accuracy {meta['test_accuracy']:.4f}, {meta['train_seconds']} s")
    assert meta["test_accuracy"] >= 0.95


def data_root():
    root = os.environ.get("GANBENCH_DATA")
    if not root:
        pytest.skip("GANBENCH_DATA is not set")
    return root  # set but missing files: the loader raises and the test fails


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("dataset,target", [("mnist", 0.99), ("fashion-mnist", 0.90)])
def test_real_data_accuracy(dataset, target, tmp_path):
    root = data_root()
    path, meta = get_classifier(dataset, cache_dir=str(tmp_path), data_root=root)
    print(f"{dataset} classifier: test accuracy {meta['test_accuracy']:.4f} "
          f"({meta['n_train']} train / {meta['n_test']} test), {meta['train_seconds']} s")
    assert meta["n_train"] == 60000 and meta["n_test"] == 10000
    assert meta["test_accuracy"] >= target


def test_classifier_weights_do_not_depend_on_the_callers_thread_count():
    """CPU kernels reduce in a thread-count-dependent order; the classifier trains and predicts on
    one thread, so a Ray trial (1 thread) and the serial executor (all cores) make the same
    classifier, hence the same FIDs."""
    import torch

    from bench.metrics.classifier import ClassifierConfig, train_classifier

    cfg = ClassifierConfig(epochs=1, min_steps=20, batch_size=64, width=8, feat_dim=16)
    prev = torch.get_num_threads()
    shas = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            shas.append(train_classifier("mnist-5k", cfg)["meta"]["weights_sha256"])
            assert torch.get_num_threads() == n  # the caller's setting is restored
    finally:
        torch.set_num_threads(prev)
    assert shas[0] == shas[1]
