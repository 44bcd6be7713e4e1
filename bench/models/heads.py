"""Discriminator wrappers shared by every architecture: a body producing features, a score
head, an optional auxiliary head (ACGAN class logits / infoGAN Q sharing D's body), and an
autoencoder discriminator whose score is the per-sample mean reconstruction energy."""
from __future__ import annotations

import torch.nn as nn

from ..losses.base import DOut


class Discriminator(nn.Module):
    def __init__(self, body: nn.Module, feat_dim: int, aux_dim: int = 0, aux_hidden: int = 128):
        super().__init__()
        self.body = body
        self.score = nn.Linear(feat_dim, 1)
        self.aux = None
        if aux_dim:
            self.aux = nn.Sequential(nn.Linear(feat_dim, aux_hidden), nn.LeakyReLU(0.2),
                                     nn.Linear(aux_hidden, aux_dim))

    def features(self, x):
        return self.body(x)

    def forward(self, x) -> DOut:
        h = self.body(x)
        return DOut(self.score(h).squeeze(1), None if self.aux is None else self.aux(h))


class AutoencoderD(nn.Module):
    """Score: the per-sample reconstruction energy, mean |D(x) - x| (``energy = "l1"``, BEGAN) or
    mean (D(x) - x)^2 (``"mse"``, EBGAN); ``aux``: the code (EBGAN's pull-away term reads it)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, energy: str = "l1"):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.energy = energy

    def reconstruct(self, x):
        return self.decoder(self.encoder(x))

    def forward(self, x) -> DOut:
        code = self.encoder(x)
        err = self.decoder(code) - x
        e = err.pow(2) if self.energy == "mse" else err.abs()
        return DOut(e.flatten(1).mean(1), code.flatten(1))
