"""The InfoGAN-style network used for every model by Lucic et al. (2018), "Are GANs Created
Equal?", for 28×28×1, 32×32×3 and 64×64×3 images.

D: conv 4×4 s2 64 → conv 4×4 s2 128 → fc 1024 → fc 1, LeakyReLU(0.2); batch norm on the
second conv and the fc layer optional (``d_norm``). G: fc 1024 → fc 128·(H/4)·(W/4) →
deconv 4×4 s2 64 → deconv 4×4 s2 C, batch norm throughout, sigmoid output (mapped
affinely to [−1, 1], the data range used throughout ganbench). BEGAN's autoencoder D uses
the same conv stack as encoder with a 64-d code and the generator's layout as decoder, batch
norm (``d_norm``) in both halves; see bench/models/dcgan.py for why it matters."""
from __future__ import annotations

import torch
import torch.nn as nn

from . import ARCHS, dcgan_init
from .heads import AutoencoderD, Discriminator


def _check(shape):
    C, H, W = shape
    if (H, W) not in ((28, 28), (32, 32), (64, 64)):
        raise ValueError(f"infogan supports 28x28, 32x32 and 64x64 images, got {H}x{W}")
    return C, H // 4, W // 4


class Generator(nn.Module):
    def __init__(self, shape, z_in, norm=True):
        super().__init__()
        C, h, w = _check(shape)
        bn1 = (lambda c: nn.BatchNorm1d(c)) if norm else (lambda c: nn.Identity())
        bn2 = (lambda c: nn.BatchNorm2d(c)) if norm else (lambda c: nn.Identity())
        self.h, self.w = h, w
        self.fc = nn.Sequential(nn.Linear(z_in, 1024), bn1(1024), nn.ReLU(True),
                                nn.Linear(1024, 128 * h * w), bn1(128 * h * w), nn.ReLU(True))
        self.net = nn.Sequential(nn.ConvTranspose2d(128, 64, 4, 2, 1), bn2(64), nn.ReLU(True),
                                 nn.ConvTranspose2d(64, C, 4, 2, 1))

    def forward(self, z):
        return torch.sigmoid(self.net(self.fc(z).view(-1, 128, self.h, self.w))) * 2 - 1


def _body(shape, d_norm):
    C, h, w = _check(shape)
    bn = d_norm == "batch"
    return nn.Sequential(
        nn.Conv2d(C, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128) if bn else nn.Identity(), nn.LeakyReLU(0.2, True),
        nn.Flatten(), nn.Linear(128 * h * w, 1024), nn.BatchNorm1d(1024) if bn else nn.Identity(),
        nn.LeakyReLU(0.2, True)), 1024


@ARCHS.register("infogan")
def build(shape, z_in, aux_dim=0, autoencoder=False, d_norm="batch", code_dim=64):
    if d_norm not in ("batch", "none"):
        raise ValueError(f"model_params.d_norm must be 'batch' or 'none', got {d_norm!r}")
    G = Generator(shape, z_in)
    if autoencoder:
        C, h, w = _check(shape)
        enc = nn.Sequential(
            nn.Conv2d(C, 64, 4, 2, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(64, 128, 4, 2, 1),
            nn.BatchNorm2d(128) if d_norm == "batch" else nn.Identity(),
            nn.LeakyReLU(0.2, True), nn.Flatten(), nn.Linear(128 * h * w, code_dim))
        D = AutoencoderD(enc, Generator(shape, code_dim, norm=d_norm == "batch"))
    else:
        body, feat = _body(shape, d_norm)
        D = Discriminator(body, feat, aux_dim)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    return G, D
