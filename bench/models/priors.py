"""Latent priors beyond N(0, I) and U[-1, 1]: a Gaussian mixture with K components whose means
and scales are learned with the generator (DeLiGAN, Gurumurthy et al., CVPR 2017) or fixed
(GM-GAN's static variant, Ben-Yosef & Weinshall 2018).

The run draws eps ~ N(0, I) and a component k uniformly (a one-hot appended to eps, before any
class or code conditioning); ``MixturePrior`` maps them to z = mu_k + sigma_k * eps in front of
the generator, so the means and scales are generator parameters (trained by G's optimiser when
learned, checkpointed, packed like any other weight).

``sigma_reg`` (λ, default 0: off) adds DeLiGAN's regulariser of the learned scales to G's loss,
which keeps them from collapsing to 0 (Gurumurthy et al. 2017, Sec. 3): λ · mean over the K
components and the d latent dimensions of (1 − σ_kd)². The paper states the L2 penalty as
λ · Σ_i (1 − σ_i)² over the components' scales σ_i; its released code (val-iisc/deligan,
src/mnist/dg_mnist.py: ``sigma_loss = tf.reduce_mean(tf.square(zsig - 1)) / 3``, added to G's
loss) averages over components and dimensions, with λ = 1/3, and so does this, so that λ means
the same whatever K and d are (the summed form is K·d times larger). Only learned scales
take it (``learn: true``); the step kinds add it and log it as ``g_sigma_reg``."""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn

MIXTURE_DEFAULTS: Dict[str, Any] = {"components": 10, "learn": True, "mu_range": 1.0, "sigma": 0.2, "sigma_reg": 0.0}


class MixturePrior(nn.Module):
    def __init__(self, G: nn.Module, z_dim: int, components: int, learn: bool, mu_range: float, sigma: float,
                 sigma_reg: float = 0.0):
        super().__init__()
        self.sigma_reg = float(sigma_reg)  # λ of sigma_regulariser, applied by the step kinds
        self.G, self.z_dim, self.K = G, int(z_dim), int(components)
        mu = torch.empty(self.K, self.z_dim).uniform_(-float(mu_range), float(mu_range))
        sig = torch.full((self.K, self.z_dim), float(sigma))
        if learn:
            self.mu, self.sigma = nn.Parameter(mu), nn.Parameter(sig)
        else:
            self.register_buffer("mu", mu)
            self.register_buffer("sigma", sig)

    def forward(self, zin: torch.Tensor) -> torch.Tensor:
        eps, onehot, rest = zin[:, :self.z_dim], zin[:, self.z_dim:self.z_dim + self.K], zin[:, self.z_dim + self.K:]
        z = onehot @ self.mu + (onehot @ self.sigma) * eps
        return self.G(torch.cat([z, rest], 1))


def sigma_regulariser(sigma: torch.Tensor, weight: float) -> torch.Tensor:
    """DeLiGAN's λ · mean_kd (1 − σ_kd)² of scales ``sigma`` (K, d); packed scales (R, K, d)
    give one value per run."""
    return weight * (1.0 - sigma).pow(2).flatten(-2).mean(-1)


def mixture_settings(given: Dict[str, Any]) -> Dict[str, Any]:
    return {**MIXTURE_DEFAULTS, **(given or {})}
