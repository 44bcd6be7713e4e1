"""eval.selection: the best checkpoint is chosen on the validation split (held out of training)
and reported on the test split; 'test' chooses and reports on the test split (Lucic et al.)."""
import math

import pytest
import torch

from bench.data import DATASETS, DatasetInfo, _load_cached, load, validation_indices
from bench.engine import Run
from bench.engine.scoring import evaluate_member, finish_selection
from bench.validate import resolve

VAL_AT, TEST_AT, TRAIN_AT = (5.0, 5.0), (-5.0, -5.0), (0.0, 0.0)
N_TRAIN, N_TEST = 1000, 200


def _shifted(split, root):
    """Unlabelled 2-D points: the validation part of train sits at VAL_AT, the rest of train
    at TRAIN_AT, the test split at TEST_AT (a small jitter keeps covariances non-singular)."""
    g = torch.Generator().manual_seed(0)
    if split == "test":
        return torch.tensor(TEST_AT) + 0.01 * torch.randn(N_TEST, 2, generator=g), torch.zeros(N_TEST, dtype=torch.long)
    y = torch.zeros(N_TRAIN, dtype=torch.long)
    x = torch.tensor(TRAIN_AT) + 0.01 * torch.randn(N_TRAIN, 2, generator=g)
    val = validation_indices(y, 0)
    x[val] = torch.tensor(VAL_AT) + 0.01 * torch.randn(len(val), 2, generator=g)
    return x, y


@pytest.fixture
def shifted(monkeypatch):
    name = "test-shifted-split"
    info = DatasetInfo(name=name, kind="points", shape=(2,), num_classes=0, description="constructed",
                       loader=_shifted, needs_root=False)
    monkeypatch.setitem(DATASETS._items, name, info)
    yield name
    _load_cached.cache_clear()


def _run(dataset, selection):
    spec = resolve("ns", {"dataset": dataset, "model": "mlp", "steps": 200, "batch_size": 50,
                          "eval": {"extractor": "modes", "every": 100, "num_samples": 200, "metrics": ["fid"],
                                   "selection": selection}})
    return Run(spec)


def _put_generator_at(run, point, step):
    """Make G output ``point`` for every latent (zero last-layer weights, bias = point)."""
    last = run.G[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(point))
    run.step = step


def _train_two_checkpoints(run):
    _put_generator_at(run, VAL_AT, 100)
    evaluate_member(run, final=False)
    _put_generator_at(run, TEST_AT, 200)
    evaluate_member(run, final=True)
    finish_selection(run)


def test_validation_split_is_held_out_stratified_and_fixed():
    train, val, fit = load("mnist-5k", "train"), load("mnist-5k", "val"), load("mnist-5k", "fit")
    assert (len(val), len(fit)) == (400, 3600)  # 10% of the 4,000 training digits
    assert torch.bincount(val.y).tolist() == [40] * 10  # 10% of each class's 400
    # fit + val is exactly train, with no image in both
    idx = validation_indices(train.y, 10)
    mask = torch.zeros(len(train), dtype=torch.bool)
    mask[idx] = True
    assert torch.equal(train.x[mask], val.x) and torch.equal(train.x[~mask], fit.x)
    assert torch.equal(validation_indices(train.y, 10), idx)  # fixed: no dependence on any run


def test_runs_train_on_the_fit_split_only_under_validation_selection():
    assert _run("ring8", "validation").training_split == "fit"
    assert _run("ring8", "test").training_split == "train"


def test_validation_and_test_selection_pick_different_checkpoints(shifted):
    on_val = _run(shifted, "validation")
    _train_two_checkpoints(on_val)
    on_test = _run(shifted, "test")
    _train_two_checkpoints(on_test)

    # the step-100 generator sits on the validation points: chosen on validation ...
    assert on_val.best_step["frechet_inception_distance"] == 100
    # ... and the step-200 generator sits on the test points: chosen on test
    assert on_test.best_step["frechet_inception_distance"] == 200

    # FID on raw coordinates between two point clouds of (nearly) zero spread is the squared
    # distance of their means: |(5,5) - (-5,-5)|^2 = 200 between the selected G and the test split
    fid_val = on_val.best["frechet_inception_distance"]
    assert fid_val == pytest.approx(200.0, rel=0.01)
    assert on_val.select["frechet_inception_distance"] == pytest.approx(0.0, abs=0.01)  # the score that chose
    # test selection reports the score it chose on: the step-200 generator against the test split
    assert on_test.best["frechet_inception_distance"] == pytest.approx(0.0, abs=0.01)
    assert on_test.select == on_test.best
    # the final checkpoint is reported on the test split in both
    assert on_val.final["frechet_inception_distance"] == pytest.approx(0.0, abs=0.01)
    # the curves hold the choosing scores: validation ones under validation selection
    assert [s for s, _ in on_val.curves["eval.frechet_inception_distance"]] == [100, 200]
    assert on_val.curves["eval.frechet_inception_distance"][1][1] == pytest.approx(200.0, rel=0.01)
    # the selected generator's weights were kept, not the final ones
    assert set(on_val.best_g) == {100}
    assert "validation" in on_val.provenance["selection"]


def test_selection_is_checked():
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="eval.selection.*'validation'.*'test'"):
        resolve("ns", {"dataset": "ring8", "eval": {"selection": "train"}})


def test_resumed_run_keeps_the_selected_generator(shifted, tmp_path):
    run = _run(shifted, "validation")
    _put_generator_at(run, VAL_AT, 100)
    evaluate_member(run, final=False)
    saved = run.state_dict()
    torch.save(saved, tmp_path / "ck.pt")
    again = _run(shifted, "validation")
    again.load_state_dict(torch.load(tmp_path / "ck.pt", weights_only=False))
    _put_generator_at(again, TEST_AT, 200)
    evaluate_member(again, final=True)
    finish_selection(again)
    assert again.best_step["frechet_inception_distance"] == 100
    assert math.isclose(again.best["frechet_inception_distance"], 200.0, rel_tol=0.01)
