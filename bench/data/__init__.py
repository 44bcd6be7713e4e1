"""Dataset registry. Every dataset loads once into one tensor in memory (uint8 images
N×C×H×W, or float32 points N×2) plus int64 labels; batches are drawn by index.

Labels: one class per sample (``y``, N), or for a dataset with several label attributes
(``DatasetInfo.attributes``: K ≥ 2 named attributes with a class count each, e.g. hair and eye
colour) an N×K array (``Dataset.attrs``) whose first column is also ``y``: the primary label that
everything using one class per sample (stratified splits, the classifier extractor, class
metrics) reads. A loader returns N labels, or N×K for such a dataset.

Besides the registered names, the registry resolves user datasets named by where their files
are -- ``folder:PATH``, ``npz:PATH``, ``npy:PATH``, with optional ``?size=&crop=&mode=``
settings (:mod:`.user`) -- registering each on first use, once per process."""
from __future__ import annotations
from ..errors import DatasetUnavailable  # noqa: F401

import dataclasses
import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Tuple

import torch

from ..errors import GanbenchError, RegistryError
from ..registry import Registry


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str  # "image" or "points"
    shape: Tuple[int, ...]  # (C, H, W) or (2,)
    num_classes: int  # 0 = unlabelled
    description: str
    loader: Callable[[str, Path], Tuple[torch.Tensor, torch.Tensor]] = field(repr=False)
    splits: Tuple[str, ...] = ("train", "test")
    needs_root: bool = True
    extras: dict = field(default_factory=dict)  # e.g. mixture modes for 2-D data
    label: str = ""  # display label (reports); the name when empty
    # several label attributes: ((name, class count), ...), K >= 2, the first one's count being
    # num_classes; empty: one label per sample (num_classes classes, 0 = unlabelled)
    attributes: Tuple[Tuple[str, int], ...] = ()

    def __post_init__(self):
        if self.attributes and (len(self.attributes) < 2 or self.attributes[0][1] != self.num_classes):
            raise ValueError(f"dataset {self.name!r}: attributes must be two or more (name, classes) pairs, the "
                             f"first with num_classes={self.num_classes} classes; got {self.attributes!r}")

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def labelled(self) -> bool:
        return self.num_classes > 0

    @property
    def attribute_names(self) -> Tuple[str, ...]:
        return tuple(n for n, _ in self.attributes)


@dataclass
class Dataset:
    info: DatasetInfo
    split: str
    x: torch.Tensor
    y: torch.Tensor  # N primary labels (int64)
    attrs: Optional[torch.Tensor] = None  # N×K labels of a dataset with K label attributes, else None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def labels(self) -> torch.Tensor:
        """Every label: N×K for a dataset with K label attributes, else the N labels ``y``."""
        return self.y if self.attrs is None else self.attrs

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device) -> "Dataset":
        return self.subset(None, device)

    def subset(self, keep: Optional[torch.Tensor], device=None) -> "Dataset":
        """The samples ``keep`` selects (a mask or indices; None: all), on ``device``."""
        def part(t):
            if t is None:
                return None
            t = t if keep is None else t[keep].contiguous()
            return t if device is None else t.to(device)

        return Dataset(self.info, self.split, part(self.x), part(self.y), part(self.attrs))

    def as_float(self, idx: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Model-space tensor: images mapped from uint8 to [-1, 1]; points unchanged."""
        x = self.x if idx is None else self.x[idx]
        return to_model_space(x, self.kind)


def to_model_space(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "image":
        return x.float().div_(127.5).sub_(1.0)
    return x.float()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Inverse of to_model_space for images: [-1, 1] floats -> uint8 (rounded, clamped)."""
    return ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def dataset_cache_key(info: DatasetInfo) -> str:
    """The dataset's part of cache file names (reference features, classifier, real-data floor):
    its name, or for a user dataset a file-name-safe key that includes the hash of its files and
    its settings (``extras["cache_key"]``), so changed files never reuse stale caches."""
    return info.extras.get("cache_key") or info.name


class DatasetRegistry(Registry):
    """The dataset registry: a plain :class:`~bench.registry.Registry` that also resolves user
    dataset names (``folder:``, ``npz:``, ``npy:``; :mod:`.user`) on first use and registers
    them, with a :class:`.user.UserOrigin` naming their files. A name that cannot be resolved
    raises ``UserDatasetError`` (a ``RegistryError`` and a ``ConfigError``) naming the path and
    the remedy; ``in`` answers False for it and ``unknown_message`` gives that message."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self._user_lock = threading.RLock()

    def get(self, name: str) -> DatasetInfo:
        try:
            return super().get(name)
        except RegistryError:
            if not user.is_user_name(name):
                raise
        return self._resolve_user(name)

    def __contains__(self, name: object) -> bool:
        if super().__contains__(name):
            return True
        if not user.is_user_name(name):
            return False
        try:
            self._resolve_user(name)
        except GanbenchError:
            return False
        return True

    def unknown_message(self, name: str) -> str:
        if user.is_user_name(name):
            try:
                self._resolve_user(name)
            except GanbenchError as e:
                return str(e)
        return super().unknown_message(name)

    def _resolve_user(self, name: str) -> DatasetInfo:
        with self._user_lock:
            if name in self._items:
                return self._items[name]
            info, origin = user.resolve(name)
            self.add(name, info, origin=origin)
            return info

    def forget_user(self, name: Optional[str] = None) -> None:
        """Drop user datasets (``name``, or all) from this process: the next use reads their files
        again (a process otherwise sees a user dataset as it was when first used)."""
        with self._user_lock:
            for n in [n for n in self._items if user.is_user_name(n) and (name is None or n == name)]:
                del self._items[n]
                del self._origins[n]
            user.forget(name)
            _load_cached.cache_clear()


DATASETS: DatasetRegistry = DatasetRegistry("dataset")


def default_root() -> Path:
    env = os.environ.get("GANBENCH_DATA")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganbench" / "data"


def resolve_root(root=None) -> Path:
    return Path(root) if root else default_root()


# The validation split: a fixed, class-stratified 10% of the training split, held out from
# training when runs select on it (``eval.selection: validation``). ``val`` is that part and
# ``fit`` the rest; both are derived from ``train`` for every dataset that has one, the same on
# every machine (a fixed seed, independent of the run's seed).
VALIDATION_FRACTION = 0.1
VALIDATION_SEED = 0
DERIVED_SPLITS = ("fit", "val")


def splits_of(info: DatasetInfo) -> Tuple[str, ...]:
    """The splits of dataset ``info``: its own, plus ``fit``/``val`` where it has ``train``."""
    return tuple(info.splits) + (DERIVED_SPLITS if "train" in info.splits else ())


def validation_indices(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Sorted indices (into the training split) of the validation part: per class, the first
    round(10%) of that class's samples in a fixed permutation (the whole split as one group
    when unlabelled)."""
    g = torch.Generator().manual_seed(VALIDATION_SEED)
    perm = torch.randperm(len(y), generator=g)
    groups = [perm[y[perm] == c] for c in range(num_classes)] if num_classes else [perm]
    taken = [grp[:int(round(len(grp) * VALIDATION_FRACTION))] for grp in groups]
    return torch.cat(taken).sort().values


def load(name: str, split: str = "train", root=None) -> Dataset:
    """Load a registered dataset split (cached per process); ``fit`` and ``val`` are the
    training split without / with only its validation part."""
    info = DATASETS.get(name)
    if split not in splits_of(info):
        raise ValueError(f"dataset {name!r} has no split {split!r}; valid splits: {', '.join(splits_of(info))}")
    r = resolve_root(root) if info.needs_root else Path(".")
    return _load_cached(name, split, str(r))


@functools.lru_cache(maxsize=16)
def _load_cached(name: str, split: str, root: str) -> Dataset:
    info = DATASETS.get(name)
    if split in DERIVED_SPLITS:
        full = _load_cached(name, "train", root)
        held = torch.zeros(len(full), dtype=torch.bool)
        held[validation_indices(full.y, info.num_classes)] = True
        keep = held if split == "val" else ~held
        return dataclasses.replace(full.subset(keep), split=split)
    x, y = info.loader(split, Path(root))
    if info.kind == "image":
        assert x.dtype == torch.uint8 and x.dim() == 4 and tuple(x.shape[1:]) == info.shape, (name, x.shape)
    y = y.to(torch.int64).contiguous()
    attrs = None
    if info.attributes:  # N×K labels: the first column is the primary label
        assert y.dim() == 2 and y.shape[1] == len(info.attributes), (name, y.shape)
        attrs, y = y, y[:, 0].contiguous()
    return Dataset(info, split, x.contiguous(), y, attrs)


from . import vision, mnist5k, toy  # noqa: E402,F401  (registration; the order is the report order)
from . import user  # noqa: E402  (user datasets: resolved on first use, nothing registered here)
from .feed import BatchFeed  # noqa: E402,F401
from ..config import set_dataset_content_hook  # noqa: E402

set_dataset_content_hook(user.content_hash_of)
