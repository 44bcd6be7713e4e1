"""Fully connected networks for the 2-D mixtures (as in Metz et al. 2017 and PacGAN's toy
experiments): ``depth`` hidden layers of ``hidden`` units, ReLU in G, LeakyReLU in D."""
from __future__ import annotations

import torch.nn as nn

from . import ARCHS
from .heads import AutoencoderD, Discriminator


def _mlp(d_in, hidden, depth, act):
    layers = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), act()]
    return nn.Sequential(*layers)


@ARCHS.register("mlp")
def build(shape, z_in, aux_dim=0, autoencoder=False, hidden=128, depth=3, code_dim=8, d_norm="none", d_pack=1):
    if d_norm != "none":
        raise ValueError("mlp discriminators have no normalisation; d_norm must be 'none'")
    if tuple(shape) != (2,):
        raise ValueError(f"mlp is for 2-D points, got data of shape {tuple(shape)}")
    G = nn.Sequential(_mlp(z_in, hidden, depth, lambda: nn.ReLU(True)), nn.Linear(hidden, 2))
    lrelu = lambda: nn.LeakyReLU(0.2, True)  # noqa: E731
    d_in = 2 * int(d_pack)  # PacGAN: m samples concatenated along features
    if autoencoder:
        enc = nn.Sequential(_mlp(d_in, hidden, depth - 1, lrelu), nn.Linear(hidden, code_dim))
        dec = nn.Sequential(_mlp(code_dim, hidden, depth - 1, lrelu), nn.Linear(hidden, d_in))
        D = AutoencoderD(enc, dec)
    else:
        D = Discriminator(_mlp(d_in, hidden, depth, lrelu), hidden, aux_dim)
    return G, D
