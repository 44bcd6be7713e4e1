"""Architectures. Each registered builder makes a (generator, discriminator) pair from the
data shape and the objective's declared needs: extra generator inputs (class or infoGAN
codes), an auxiliary head on D (class logits or Q), or an autoencoder discriminator."""
from __future__ import annotations

import inspect
from typing import Tuple

import torch.nn as nn

from ..errors import ConfigError
from ..registry import Registry
from .heads import AutoencoderD, Discriminator  # noqa: F401

ARCHS = Registry("architecture")


def arch_params(name: str) -> dict:
    fn = ARCHS.get(name)
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty and k not in ("aux_dim", "autoencoder", "d_pack")}


def default_arch(kind: str) -> str:
    return "mlp" if kind == "points" else "dcgan"


def supports_d_pack(arch: str) -> bool:
    """Whether the architecture can widen D's input to m packed samples (PacGAN)."""
    return "d_pack" in inspect.signature(ARCHS.get(arch)).parameters


def build_models(arch: str, shape: Tuple[int, ...], z_dim: int, objective, num_classes: int,
                 params: dict | None = None, d_pack: int = 1) -> Tuple[nn.Module, nn.Module]:
    """G and D for data of ``shape``; with ``d_pack = m`` > 1 D takes m samples concatenated
    along features (the suite's ``stabilise.pacgan``; only architectures that declare
    ``d_pack`` support it)."""
    fn = ARCHS.get(arch)
    params = dict(params or {})
    valid = arch_params(arch)
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise ConfigError(f"model_params: unknown key {unknown[0]!r} for architecture {arch!r}; "
                          f"valid: {', '.join(sorted(valid))}")
    if d_pack != 1:
        if not supports_d_pack(arch):
            packing = [a for a in ARCHS.names() if supports_d_pack(a)]
            raise ConfigError(f"stabilise.pacgan = {d_pack}: architecture {arch!r} cannot pack D's input; "
                              f"architectures that can: {', '.join(packing)}")
        params["d_pack"] = d_pack
    spectral = params.get("d_norm") == "spectral"
    if spectral:  # any architecture with a d_norm setting: built without normalisation, then wrapped
        params["d_norm"] = "none"
    G, D = fn(shape=tuple(shape), z_in=z_dim + objective.g_cond_dim(num_classes),
              aux_dim=objective.aux_dim(num_classes, z_dim), autoencoder=objective.caps.autoencoder_d, **params)
    if isinstance(D, AutoencoderD):
        D.energy = objective.caps.autoencoder_energy
    if spectral:
        spectral_normalise(D)
    return G, D


def spectral_normalise(D: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al., ICLR 2018) of every conv and linear layer of D, the
    auxiliary and autoencoder halves included: each weight is divided by its largest singular
    value, estimated by one power iteration per forward pass in training mode (torch's
    parametrization; u and v are buffers, so checkpoints carry them)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(D.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            spectral_norm(m)
    return D


def dcgan_init(m: nn.Module) -> None:
    """N(0, 0.02) weights for conv/linear layers, N(1, 0.02) for batch-norm scales (Radford et al.)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


from . import dcgan, infogan, mlp, pacgan  # noqa: E402,F401
