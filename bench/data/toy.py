"""2-D Gaussian mixtures used for mode-collapse studies (Metz et al. 2017, "Unrolled GANs";
also VEEGAN and PacGAN): a ring of 8 Gaussians (radius 2, std 0.02) and a 5×5 grid of
Gaussians (std 0.05); and PacGAN's own pair (Lin et al. 2018): a ring of radius 1, std 0.01,
and the same grid. Labels are the mode index. Points are generated from a fixed seed per
split, so every run sees the same data."""
from __future__ import annotations

import math

import torch

from . import DATASETS, DatasetInfo

N_POINTS = {"train": 100_000, "test": 10_000}
_SPLIT_SEED = {"train": 1234, "test": 4321}


def ring8_modes() -> torch.Tensor:
    ang = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([2.0 * torch.cos(ang), 2.0 * torch.sin(ang)], 1).float()


def ring8_pacgan_modes() -> torch.Tensor:
    """PacGAN's ring: 8 modes at (cos 2*pi*i/8, sin 2*pi*i/8), radius 1."""
    ang = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([torch.cos(ang), torch.sin(ang)], 1).float()


def grid25_modes() -> torch.Tensor:
    c = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)


def sample_mixture(modes: torch.Tensor, std: float, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(len(modes), (n,), generator=g)
    x = modes[y] + std * torch.randn(n, 2, generator=g)
    return x.float(), y


def _loader(modes_fn, std):
    def load(split, root):
        return sample_mixture(modes_fn(), std, N_POINTS[split], _SPLIT_SEED[split])

    return load


for _name, _label, _fn, _std, _desc in [
    ("ring8", "Ring-8", ring8_modes, 0.02, "8 Gaussians on a circle of radius 2, std 0.02"),
    ("grid25", "Grid-25", grid25_modes, 0.05, "5x5 grid of Gaussians at {-4,-2,0,2,4}^2, std 0.05"),
    # PacGAN's synthetic experiments (Lin et al. 2018, Table 1; fjxmlzn/PacGAN,
    # synthetic_data_experiments): 100,000 training points, uniform mode weights
    ("ring8-pacgan", "Ring-8 (PacGAN)", ring8_pacgan_modes, 0.01,
     "PacGAN's ring: 8 Gaussians on a circle of radius 1, std 0.01"),
    ("grid25-pacgan", "Grid-25 (PacGAN)", grid25_modes, 0.05,
     "PacGAN's grid: 5x5 Gaussians at {-4,-2,0,2,4}^2, std 0.05"),
]:
    DATASETS.add(_name, DatasetInfo(
        name=_name, kind="points", shape=(2,), num_classes=len(_fn()), description=_desc,
        loader=_loader(_fn, _std), needs_root=False, extras={"modes": _fn(), "std": _std}, label=_label,
    ))
