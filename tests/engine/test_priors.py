"""z_dist: mixture -- a Gaussian-mixture latent prior (DeLiGAN / GM-GAN), learned or fixed."""
import pytest
import torch
import torch.nn as nn

from bench.engine import Run, train_unit
from bench.errors import ConfigError
from bench.models.priors import MixturePrior
from bench.validate import resolve

BASE = {"dataset": "ring8", "steps": 20, "batch_size": 32, "log_every": 10, "checkpoint_every": 20,
        "z_dim": 4, "z_dist": "mixture", "eval": {"extractor": "none"}}


def test_prior_maps_eps_and_component_to_mu_plus_sigma_eps():
    prior = MixturePrior(nn.Identity(), z_dim=2, components=3, learn=False, mu_range=1.0, sigma=0.5)
    prior.mu.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [3.0, 2.0]]))
    eps = torch.tensor([[1.0, 2.0], [-2.0, 0.5]])
    onehot = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    cond = torch.tensor([[7.0], [8.0]])  # conditioning after the prior's inputs passes through
    out = prior(torch.cat([eps, onehot, cond], 1))
    # by hand: mu_1 + 0.5 * (1, 2) = (1.5, 0); mu_2 + 0.5 * (-2, 0.5) = (2, 2.25)
    assert torch.allclose(out, torch.tensor([[1.5, 0.0, 7.0], [2.0, 2.25, 8.0]]))


def test_latents_carry_a_uniform_component_and_conditioning_after_it():
    run = Run(resolve("acgan", {**BASE, "z_mixture": {"components": 5}}))
    z, _ = run.fixed_latents(4000, seed=0)
    assert z.shape[1] == 4 + 5 + 8  # eps, the component one-hot, ACGAN's class one-hot (ring8: 8 modes)
    counts = z[:, 4:9].sum(0)
    assert counts.sum() == 4000 and counts.min() > 700  # about 800 per component
    assert isinstance(run.G, MixturePrior)


def test_learned_means_train_fixed_ones_stay(tmp_path):
    learned = Run(resolve("ns", {**BASE, "z_mixture": {"components": 3, "learn": True}}))
    fixed = Run(resolve("ns", {**BASE, "z_mixture": {"components": 3, "learn": False}}))
    assert {n for n, _ in learned.G.named_parameters()} >= {"mu", "sigma"}
    assert "mu" not in {n for n, _ in fixed.G.named_parameters()}
    recs = []
    for name, spec in [("l", learned.spec), ("f", fixed.spec)]:
        recs.append(train_unit([spec], [tmp_path / name])[0])
    ck_l = torch.load(tmp_path / "l" / "checkpoints" / "latest.pt", weights_only=False)
    ck_f = torch.load(tmp_path / "f" / "checkpoints" / "latest.pt", weights_only=False)
    assert not torch.equal(ck_l["G"]["mu"], learned.G.mu.detach())  # moved by G's optimiser
    assert torch.equal(ck_f["G"]["mu"], fixed.G.mu)  # a buffer: never trained
    assert all(r["status"] == "done" for r in recs)


def test_mixture_runs_pack(tmp_path):
    specs = [resolve("ns", {**BASE, "seed": s, "z_mixture": {"components": 3}}) for s in (0, 1)]
    recs = train_unit(specs, [tmp_path / "a", tmp_path / "b"])
    assert [r["status"] for r in recs] == ["done", "done"] and recs[0]["cost"]["packed"] == 2


def test_prior_settings_are_checked():
    with pytest.raises(ConfigError, match="z_dist.*valid: normal, uniform, mixture"):
        resolve("ns", {**BASE, "z_dist": "gmm"})
    with pytest.raises(ConfigError, match="z_mixture.*set z_dist: mixture"):
        resolve("ns", {**BASE, "z_dist": "normal", "z_mixture": {"components": 3}})
    with pytest.raises(ConfigError, match="z_mixture: unknown key 'k'"):
        resolve("ns", {**BASE, "z_mixture": {"k": 3}})
    with pytest.raises(ConfigError, match="components"):
        resolve("ns", {**BASE, "z_mixture": {"components": 0}})
    assert "z_mixture" not in resolve("ns", {**BASE, "z_dist": "normal"}).identity()
