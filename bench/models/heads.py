"""Discriminator wrappers shared by every architecture: a body producing features, a score
head, an optional auxiliary head (ACGAN class logits / infoGAN Q sharing D's body), and an
autoencoder discriminator whose score is the per-sample mean L1 reconstruction error."""
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
    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def reconstruct(self, x):
        return self.decoder(self.encoder(x))

    def forward(self, x) -> DOut:
        return DOut((self.reconstruct(x) - x).abs().flatten(1).mean(1))
