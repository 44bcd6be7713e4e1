"""The networks of PacGAN's 2-D mixture experiments (Lin et al. 2018, "PacGAN: The power of two
samples in generative adversarial networks"; read from their code, fjxmlzn/PacGAN,
``synthetic_data_experiments``): G maps z through four 400-unit layers (linear without bias,
batch norm with momentum 0.05, ReLU) to a biased linear output; D is three LinearMaxout layers of
200 units with 5 pieces (a linear map to 1,000 units, max over groups of 5) and a linear score,
no batch norm. Weights N(0, 0.02), biases zero.

``d_pack = m`` (the suite's ``stabilise.pacgan``) widens D's input to m samples concatenated
along features (only the first layer grows), as in PacGAN. BEGAN's autoencoder D uses the maxout
stack as encoder (to a ``code_dim`` code) and a ReLU MLP of the same widths as decoder; an
auxiliary head (ACGAN, infoGAN) sits on the maxout features."""
from __future__ import annotations

import torch
import torch.nn as nn

from . import ARCHS
from .heads import AutoencoderD, Discriminator


class LinearMaxout(nn.Module):
    def __init__(self, d_in: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(d_in, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x)
        return h.view(*h.shape[:-1], self.units, self.pieces).amax(-1)


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def _maxout_stack(d_in: int, units: int, pieces: int, depth: int) -> nn.Sequential:
    return nn.Sequential(*[LinearMaxout(d_in if i == 0 else units, units, pieces) for i in range(depth)])


@ARCHS.register("pacgan")
def build(shape, z_in, aux_dim=0, autoencoder=False, g_hidden=400, g_depth=4, d_units=200, d_pieces=5,
          d_depth=3, bn_momentum=0.05, code_dim=8, d_norm="none", d_pack=1):
    if d_norm != "none":
        raise ValueError("the pacgan discriminator has no normalisation (as published); d_norm must be 'none'")
    if tuple(shape) != (2,):
        raise ValueError(f"the pacgan networks are for 2-D points, got data of shape {tuple(shape)}")
    layers = []
    for i in range(g_depth):
        layers += [nn.Linear(z_in if i == 0 else g_hidden, g_hidden, bias=False),
                   nn.BatchNorm1d(g_hidden, momentum=bn_momentum), nn.ReLU(True)]
    G = nn.Sequential(*layers, nn.Linear(g_hidden, 2))
    d_in = 2 * int(d_pack)
    if autoencoder:
        enc = nn.Sequential(_maxout_stack(d_in, d_units, d_pieces, d_depth), nn.Linear(d_units, code_dim))
        dec_layers = []
        for i in range(d_depth):
            dec_layers += [nn.Linear(code_dim if i == 0 else d_units, d_units), nn.ReLU(True)]
        D = AutoencoderD(enc, nn.Sequential(*dec_layers, nn.Linear(d_units, d_in)))
    else:
        D = Discriminator(_maxout_stack(d_in, d_units, d_pieces, d_depth), d_units, aux_dim)
    G.apply(_init)
    D.apply(_init)
    return G, D
