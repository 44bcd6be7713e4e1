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
            if p.default is not inspect.Parameter.empty and k not in ("aux_dim", "autoencoder")}


def default_arch(kind: str) -> str:
    return "mlp" if kind == "points" else "dcgan"


def build_models(arch: str, shape: Tuple[int, ...], z_dim: int, objective, num_classes: int,
                 params: dict | None = None) -> Tuple[nn.Module, nn.Module]:
    fn = ARCHS.get(arch)
    params = dict(params or {})
    valid = arch_params(arch)
    unknown = [k for k in params if k not in valid]
    if unknown:
        raise ConfigError(f"model_params: unknown key {unknown[0]!r} for architecture {arch!r}; "
                          f"valid: {', '.join(sorted(valid))}")
    return fn(shape=tuple(shape), z_in=z_dim + objective.g_cond_dim(num_classes),
              aux_dim=objective.aux_dim(num_classes), autoencoder=objective.caps.autoencoder_d, **params)


def dcgan_init(m: nn.Module) -> None:
    """N(0, 0.02) weights for conv/linear layers, N(1, 0.02) for batch-norm scales (Radford et al.)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


from . import dcgan, infogan, mlp  # noqa: E402,F401
