"""PacGAN's packed discriminator (``stabilise.pacgan: m``) and its networks (arch ``pacgan``)."""
import pytest
import torch

from bench.engine import PackedStep, Run, SoloStep, train_unit
from bench.engine.policy import pac
from bench.errors import ConfigError
from bench.models.pacgan import LinearMaxout
from bench.validate import resolve


def spec(loss="ns", m=2, seed=0, **kw):
    base = {"dataset": "ring8", "model": "pacgan", "batch_size": 10, "steps": 8, "log_every": 4,
            "checkpoint_every": 8, "z_dim": 2, "stabilise": {"pacgan": m}, "eval": {"extractor": "none"},
            "optim": {"lr": 1e-4, "betas": [0.8, 0.999]}}
    base.update(kw)
    return resolve(loss, base, {"seed": seed})


def test_pac_concatenates_one_sample_of_each_sub_batch_per_row():
    x = torch.arange(12.0).view(6, 2)  # m = 3 sub-batches of B = 2 two-dimensional samples
    assert pac(x, 3, batched=False).tolist() == [[0, 1, 4, 5, 8, 9], [2, 3, 6, 7, 10, 11]]
    assert torch.equal(pac(x, 1, batched=False), x)
    xb = torch.stack([x, x + 100])  # a run axis in front (seed packing)
    assert torch.equal(pac(xb, 3, batched=True)[1], pac(x + 100, 3, batched=False))


def test_linear_maxout_is_the_max_over_pieces():
    torch.manual_seed(0)
    layer = LinearMaxout(4, units=3, pieces=5)
    x = torch.randn(7, 4)
    h = x @ layer.linear.weight.T + layer.linear.bias
    expected = torch.stack([h[:, 5 * u:5 * u + 5].max(1).values for u in range(3)], 1)
    assert torch.allclose(layer(x), expected)


def test_only_the_first_layer_of_d_grows_with_m():
    a, b = Run(spec(m=1)), Run(spec(m=3))
    sa = {n: p.shape for n, p in a.D.named_parameters()}
    sb = {n: p.shape for n, p in b.D.named_parameters()}
    differ = [n for n in sa if sa[n] != sb[n]]
    assert differ == ["body.0.linear.weight"] and sb[differ[0]][1] == 3 * sa[differ[0]][1] == 6
    assert b.D(torch.zeros(5, 6)).score.shape == (5,)


@pytest.mark.parametrize("loss", ["ns", "wgan-gp", "began"])
def test_packed_d_trains_and_draws_m_batches(loss, tmp_path):
    rec = train_unit([spec(loss)], [tmp_path])[0]
    assert rec["status"] == "done" and rec["counts"]["d_steps"] == 8
    run = Run(spec(loss))
    run.attach_data()
    assert run.feed.batch(0)[0].shape == (20, 2)  # m = 2 batches of 10


def test_seed_packing_combines_with_pacgan_exactly(monkeypatch):
    from bench.data import feed

    batch = feed.BatchFeed.batch
    monkeypatch.setattr(feed.BatchFeed, "batch", lambda self, step: (lambda x, y: (x.double(), y))(*batch(self, step)))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        sp = [spec(seed=s) for s in (0, 1)]
        pk = PackedStep(sp)
        for r in pk.members:
            r.attach_data()
        for step in range(6):
            pk.step(step)
        pk.sync_members()
        for k, s in enumerate(sp):
            solo = SoloStep(Run(s))
            solo.run.attach_data()
            for step in range(6):
                solo.step(step)
            z = torch.randn(16, 2, generator=torch.Generator().manual_seed(5))
            with torch.no_grad():
                pk.members[k].G.eval(), solo.run.G.eval()
                a, b = pk.members[k].G(z), solo.run.G(z)
            assert ((a - b).abs().max() / b.abs().max()).item() < 1e-8
    finally:
        torch.set_default_dtype(old)


def test_what_pacgan_refuses():
    with pytest.raises(ConfigError, match="stabilise.pacgan = 2: objective 'acgan' has an auxiliary class head"):
        spec("acgan")
    with pytest.raises(ConfigError, match="architecture 'dcgan' cannot pack D's input; architectures that can: "):
        resolve("ns", {"dataset": "mnist-5k", "model": "dcgan", "stabilise": {"pacgan": 2}})
    with pytest.raises(ConfigError, match="stabilise.pacgan: expected a positive integer"):
        spec(m=0)


def test_pacgan_off_keeps_run_ids():
    a = resolve("ns", {"dataset": "ring8"})
    b = resolve("ns", {"dataset": "ring8", "stabilise": {"pacgan": 1}})
    assert a.run_id == b.run_id and "pacgan" not in a.identity()["stabilise"]
    assert spec(m=2).run_id != spec(m=1).run_id


def test_pacgan_mixtures_have_distinct_modes_where_published():
    from bench.data import DATASETS, load

    ring = DATASETS.get("ring8-pacgan").extras["modes"]
    assert torch.allclose(ring.norm(dim=1), torch.ones(8)) and torch.cdist(ring, ring).add(torch.eye(8)).min() > 0.7
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-6)  # (cos 2*pi*2/8, sin 2*pi*2/8)
    grid = DATASETS.get("grid25-pacgan").extras["modes"]
    assert len({tuple(v) for v in grid.tolist()}) == 25 and set(grid[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    x = load("ring8-pacgan", "train").x
    assert len(x) == 100_000 and abs(x.norm(dim=1).mean().item() - 1.0) < 0.01
