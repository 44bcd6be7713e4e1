"""DCGAN-style networks (Radford et al., ICLR 2016) for 28×28, 32×32 and 64×64 images, with a
width setting (channels of the widest-resolution layer). The narrow 28×28 form (width 16)
is the fast network for CPU suites.

BEGAN's autoencoder D: the discriminator's conv stack and a linear map to a ``code_dim`` code
as encoder, the generator's layout as decoder; ``d_norm`` sets batch norm in both halves (the
autoencoder is the discriminator). Without batch norm in the decoder the L1 autoencoder sits
for about a thousand steps on its first plateau (every pixel background, tanh saturated at −1),
long enough for the generator to settle on images the untrained autoencoder reconstructs well
(blank or a flat texture)."""
from __future__ import annotations

import torch.nn as nn

from . import ARCHS, dcgan_init
from .heads import AutoencoderD, Discriminator

# resolution -> (spatial size of the first generator feature map, number of upsamplings)
_PLAN = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _norm2d(c, kind):
    return nn.BatchNorm2d(c) if kind == "batch" else nn.Identity()


def _norm1d(c, kind):
    return nn.BatchNorm1d(c) if kind == "batch" else nn.Identity()


def _plan(shape):
    C, H, W = shape
    if H != W or H not in _PLAN:
        raise ValueError(f"dcgan supports 28x28, 32x32 and 64x64 images, got {H}x{W}")
    return C, H, _PLAN[H]


class Generator(nn.Module):
    def __init__(self, shape, z_in, width, norm="batch"):
        super().__init__()
        C, H, (s0, n_up) = _plan(shape)
        ch = [width * 2 ** i for i in range(n_up - 1, -1, -1)]  # e.g. [4w, 2w, w]
        self.s0, self.c0 = s0, ch[0]
        self.fc = nn.Sequential(nn.Linear(z_in, ch[0] * s0 * s0), _norm1d(ch[0] * s0 * s0, norm), nn.ReLU(True))
        layers = []
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), _norm2d(b, norm), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ch[-1], C, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(self.fc(z).view(-1, self.c0, self.s0, self.s0))


def _d_body(shape, width, norm):
    C, H, (s0, n_down) = _plan(shape)
    layers, c_in = [], C
    for i in range(n_down):
        c_out = width * 2 ** i
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1)]
        if i > 0:
            layers += [_norm2d(c_out, norm)]
        layers += [nn.LeakyReLU(0.2, True)]
        c_in = c_out
    layers += [nn.Flatten()]
    return nn.Sequential(*layers), c_in * s0 * s0


@ARCHS.register("dcgan")
def build(shape, z_in, aux_dim=0, autoencoder=False, width=64, d_norm="batch", g_norm="batch", code_dim=64):
    for key, v in (("d_norm", d_norm), ("g_norm", g_norm)):
        if v not in ("batch", "none"):
            raise ValueError(f"model_params.{key} must be 'batch' or 'none', got {v!r}")
    G = Generator(shape, z_in, width, g_norm)
    body, feat = _d_body(shape, width, d_norm)
    if autoencoder:
        enc = nn.Sequential(body, nn.Linear(feat, code_dim))
        D = AutoencoderD(enc, Generator(shape, code_dim, width, d_norm))
    else:
        D = Discriminator(body, feat, aux_dim)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    return G, D
