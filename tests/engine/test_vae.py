"""The VAE baseline: a likelihood step kind driven by the same loop as the GANs."""
import math

import pytest
import torch

from bench.engine import Run, pack_refusal, train
from bench.engine.likelihood import LikelihoodStep
from bench.errors import ConfigError
from bench.losses import LOSSES, DOut, StepCtx
from bench.validate import resolve


def test_negative_elbo_by_hand():
    mu = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, math.log(4.0)]], dtype=torch.float64)

    def encoder(x):
        return DOut(torch.zeros(1, dtype=torch.float64), torch.cat([mu, logvar], 1))
    xhat = torch.tensor([[0.0, 0.6]], dtype=torch.float64)  # decoder output in [-1, 1]
    real = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    ctx = StepCtx(gen=torch.Generator().manual_seed(0))
    # KL(N(mu, var) || N(0, 1)) per dim: 0.5 (var + mu^2 - 1 - ln var)
    kl = 0.5 * (1 + 0.25 - 1 - 0) + 0.5 * (4 + 1 - 1 - math.log(4))
    loss, logs = LOSSES.get("vae")(decoder="gaussian", sigma=0.5).loss(encoder, lambda z: xhat, real, ctx)
    rec = ((0 - 1) ** 2 + (0.6 + 1) ** 2) / (2 * 0.25) + 2 * math.log(0.5 * math.sqrt(2 * math.pi))
    assert logs["kl"].item() == pytest.approx(kl, rel=1e-12)
    assert loss.item() == pytest.approx(rec + kl, rel=1e-12)
    # Bernoulli: pixels (x + 1) / 2 as targets of probabilities (xhat + 1) / 2
    img = real.view(1, 1, 1, 2)
    loss_b, logs_b = LOSSES.get("vae")().loss(encoder, lambda z: xhat.view(1, 1, 1, 2), img, ctx)
    p = [0.5, 0.8]
    bce = -math.log(p[0]) - math.log(1 - p[1])  # targets 1 and 0
    assert logs_b["reconstruction"].item() == pytest.approx(bce, rel=1e-9)


def test_vae_trains_with_the_gan_loop(tmp_path):
    spec = resolve("vae", {"dataset": "mnist-5k", "model_params": {"width": 8}, "steps": 60, "batch_size": 32,
                           "log_every": 10, "checkpoint_every": 30, "z_dim": 8, "eval": {"extractor": "none"}})
    assert isinstance(__import__("bench.engine", fromlist=["_build"])._build([spec]), LikelihoodStep)
    rec = train(spec, tmp_path / "vae", progress=False)
    assert rec["status"] == "done" and rec["counts"]["d_steps"] == 60
    loss = [v for _, v in rec["curves"]["loss"]]
    assert loss[-1] < 0.8 * loss[0]  # the negative ELBO falls
    assert (tmp_path / "vae" / "samples" / "final.png").exists()  # samples from G(z), z ~ N(0, I)
    # resumed from its checkpoint it ends where an uninterrupted run ends
    again = train(spec, tmp_path / "vae", progress=False)
    assert again["curves"]["loss"] == rec["curves"]["loss"]


def test_a_non_finite_vae_loss_is_divergence(tmp_path, monkeypatch):
    cls = LOSSES.get("vae")
    real_loss, calls = cls.loss, []

    def loss(self, *a):
        out, logs = real_loss(self, *a)
        calls.append(1)
        return (out * float("nan") if len(calls) > 12 else out), logs  # from the 13th step on (step 12)
    monkeypatch.setattr(cls, "loss", loss)
    spec = resolve("vae", {"dataset": "ring8", "steps": 30, "batch_size": 32, "log_every": 10, "z_dim": 2,
                           "eval": {"extractor": "none"}})
    rec = train(spec, tmp_path / "v", progress=False)
    assert rec["status"] == "diverged" and rec["diverged_step"] == 12


def test_vae_settings():
    assert pack_refusal(resolve("vae", {"dataset": "ring8"})) is not None
    with pytest.raises(ConfigError, match="N\\(0, I\\)"):
        resolve("vae", {"dataset": "ring8", "z_dist": "uniform"})
    with pytest.raises(ConfigError, match="decoder.*auto, bernoulli, gaussian"):
        resolve("vae", {"dataset": "ring8", "loss_params": {"decoder": "poisson"}})
    with pytest.raises(ConfigError, match="pacgan"):
        resolve("vae", {"dataset": "ring8", "stabilise": {"pacgan": 2}})
    assert Run(resolve("vae", {"dataset": "ring8", "z_dim": 3})).D(torch.zeros(5, 2)).aux.shape == (5, 6)
