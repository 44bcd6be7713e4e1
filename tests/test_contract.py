"""Contract tests over everything the registries hold: every objective takes one D step and
one G step on every supported network without NaN, and gradients reach exactly the network
being updated."""
import pytest
import torch

from bench.validate import resolve
from bench.data import DATASETS, load
from bench.losses import LOSSES
from bench.engine import Run, SoloStep

NETS = [("mlp", "ring8", {}), ("dcgan", "mnist-5k", {"width": 8}), ("infogan", "mnist-5k", {})]


def params(m):
    return [p.detach().clone() for p in m.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


ADVERSARIAL = [n for n in LOSSES.names() if LOSSES.get(n).caps.step == "adversarial"]
LIKELIHOOD = [n for n in LOSSES.names() if LOSSES.get(n).caps.step == "likelihood"]


@pytest.mark.parametrize("arch,dataset,mp", NETS, ids=[n[0] for n in NETS])
@pytest.mark.parametrize("loss", LIKELIHOOD)
def test_one_likelihood_step_trains_both_networks(loss, arch, dataset, mp):
    from bench.engine.likelihood import LikelihoodStep

    spec = resolve(loss, {"dataset": dataset, "model": arch, "batch_size": 8, "steps": 2,
                          "model_params": mp, "eval": {"extractor": "none"}})
    run = Run(spec)
    run.attach_data()
    g0, d0 = params(run.G), params(run.D)
    side, g_side = LikelihoodStep(run).step(0, want_d_norm=True)
    assert g_side is None and all(torch.isfinite(v).all() for v in side.values())
    assert not same(params(run.G), g0) and not same(params(run.D), d0)


@pytest.mark.parametrize("arch,dataset,mp", NETS, ids=[n[0] for n in NETS])
@pytest.mark.parametrize("loss", ADVERSARIAL)
def test_one_d_step_and_one_g_step(loss, arch, dataset, mp):
    spec = resolve(loss, {"dataset": dataset, "model": arch, "batch_size": 8, "steps": 2,
                          "model_params": mp, "eval": {"extractor": "none"}})
    run = Run(spec)
    run.attach_data()
    solo = SoloStep(run)
    g0, d0 = params(run.G), params(run.D)
    d_loss, logs, fake, ctx, gn = solo.d_update(0, keep_fake=True, want_grad_norm=True)
    assert torch.isfinite(d_loss) and torch.isfinite(gn) and gn > 0
    assert all(torch.isfinite(v).all() for v in logs.values())
    assert same(params(run.G), g0), "a D step changed G"
    d1 = params(run.D)
    assert not same(d1, d0), "a D step left D unchanged"
    g_loss, _, ggn = solo.g_update(0, fake, ctx, want_grad_norm=True)
    assert torch.isfinite(g_loss) and ggn > 0
    assert same(params(run.D), d1), "a G step changed D"
    assert not same(params(run.G), g0), "a G step left G unchanged"
    if run.objective.weight_clip is not None:
        c = run.objective.weight_clip
        assert all(p.abs().max() <= c for p in run.D.parameters())


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_has_its_declared_shape(name, tmp_path):
    info = DATASETS.get(name)
    if info.needs_root:
        pytest.skip("real files; covered by tests/test_data.py")
    ds = load(name, "train")
    assert tuple(ds.x.shape[1:]) == info.shape and len(ds.y) == len(ds.x)
    assert int(ds.y.max()) < info.num_classes
