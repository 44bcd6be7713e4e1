"""``example-npz``: 2-D points read from an array file, as a ganbench dataset.

Where the file is (first found wins):

1. the path in the environment variable ``GANBENCH_EXAMPLE_NPZ``;
2. ``<data root>/example-npz.npz``, then ``<data root>/example-npz.npy``, where the data root is a
   run's ``data_root`` setting (``--data-root``), else ``$GANBENCH_DATA``.

What it holds:

- an ``.npz`` with arrays ``train`` and ``test``, each of shape (N, 2); or
- an ``.npy`` with one array of shape (N, 2): the first 90% of its rows are ``train``, the rest
  ``test``.

Points are unlabelled (every label is 0) and used as float32 coordinates. Evaluate with the
``modes`` extractor (ganbench's 2-D scores: FID, KID and precision/recall on the coordinates)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Tuple

import numpy as np
import torch

from bench.data import DATASETS, DatasetInfo

NAME = "example-npz"
ENV = "GANBENCH_EXAMPLE_NPZ"
TRAIN_FRACTION = 0.9  # of an .npy file's rows


def array_file(root: Path) -> Path:
    env = os.environ.get(ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise FileNotFoundError(f"{ENV}={env}: no such file (dataset {NAME!r})")
        return p
    for suffix in (".npz", ".npy"):
        p = Path(root) / f"{NAME}{suffix}"
        if p.is_file():
            return p
    raise FileNotFoundError(f"dataset {NAME!r}: set {ENV} to an .npz/.npy file, or put {NAME}.npz or {NAME}.npy "
                            f"in the data root ({root})")


def read_split(path: Path, split: str) -> np.ndarray:
    if path.suffix == ".npz":
        with np.load(path) as z:
            if split not in z.files:
                raise ValueError(f"{path}: dataset {NAME!r} needs arrays 'train' and 'test'; found {', '.join(z.files)}")
            x = np.asarray(z[split])
    else:
        a = np.load(path)
        cut = int(round(TRAIN_FRACTION * len(a)))
        x = a[:cut] if split == "train" else a[cut:]
    if x.ndim != 2 or x.shape[1] != 2 or len(x) < 2:
        raise ValueError(f"{path}: split {split!r} of dataset {NAME!r} must be an (N >= 2, 2) array, got {x.shape}")
    return x


def load(split: str, root: Path) -> Tuple[torch.Tensor, torch.Tensor]:
    x = read_split(array_file(root), split)
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return t, torch.zeros(len(t), dtype=torch.int64)


DATASETS.add(NAME, DatasetInfo(
    name=NAME, kind="points", shape=(2,), num_classes=0, loader=load, needs_root=True,
    description=f"2-D points from an array file (${ENV}, or {NAME}.npz/.npy in the data root)",
))
