"""The project's own feature network: a small CNN classifier trained on a dataset's train split.

Its logits serve the Inception Score and class coverage; its penultimate layer (128-d) serves
FID/KID/precision-recall. It is trained once per (dataset, training configuration), seeded and
deterministic on CPU, and cached on disk (``<cache>/classifiers/<dataset>-<confighash>.pt``,
written atomically; ``<dataset>`` is the dataset's cache key: its name, or for a user dataset a
key holding the hash of its files) together with its test accuracy, which goes into every
evaluation's provenance.

Any number of classes (two or more) and any image size of at least 8×8 pixels, grayscale or RGB:
three 2×2 poolings then a linear layer sized from the input (so larger images make a larger
linear layer; the network itself is unchanged).
"""
from __future__ import annotations

import contextlib
from ..errors import ClassifierUnavailable  # noqa: F401

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .cache import atomic_torch_save, cache_root, sha256_state_dict, short_hash

ARCH_VERSION = 1  # bump when SmallCNN changes: enters the cache key


@dataclass(frozen=True)
class ClassifierConfig:
    epochs: int = 4
    min_steps: int = 250  # small datasets get at least this many optimiser steps
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 24
    feat_dim: int = 128
    seed: int = 0
    arch_version: int = ARCH_VERSION


class SmallCNN(nn.Module):
    """conv3x3(w)-BN-ReLU-pool, conv3x3(2w)-BN-ReLU-pool, conv3x3(2w)-BN-ReLU-pool,
    fc(feat_dim)-ReLU [features], fc(num_classes) [logits]. Input: floats in [-1, 1]."""

    def __init__(self, in_ch: int, hw: Tuple[int, int], num_classes: int, width: int = 16, feat_dim: int = 128):
        super().__init__()
        w = width

        def block(ci, co):
            return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(in_ch, w), block(w, 2 * w), block(2 * w, 2 * w))
        h, wd = hw
        for _ in range(3):
            h, wd = h // 2, wd // 2
        self.fc = nn.Linear(2 * w * h * wd, feat_dim)
        self.head = nn.Linear(feat_dim, num_classes)

    def features_and_logits(self, x: torch.Tensor):
        f = F.relu(self.fc(self.body(x).flatten(1)))
        return f, self.head(f)

    def forward(self, x):
        return self.features_and_logits(x)[1]


def _to_input(x_u8: torch.Tensor) -> torch.Tensor:
    return x_u8.float().div(127.5).sub(1.0)


MIN_SIZE = 8  # three 2x2 poolings


def classifier_path(dataset: str, cfg: ClassifierConfig, cache_dir: Optional[str] = None) -> Path:
    from ..data import DATASETS, dataset_cache_key

    key = dataset_cache_key(DATASETS.get(dataset))
    return cache_root(cache_dir) / "classifiers" / f"{key}-{short_hash(asdict(cfg))}.pt"


def build_model(meta: Dict) -> SmallCNN:
    return SmallCNN(meta["in_ch"], tuple(meta["hw"]), meta["num_classes"], meta["width"], meta["feat_dim"])


@torch.no_grad()
@contextlib.contextmanager
def _one_cpu_thread(device):
    """CPU float kernels reduce in an order that depends on the thread count, so the classifier
    trains on one thread: its weights (and every FID made with it) are then the same whichever
    process trains it first (a Ray trial, the serial executor, a test)."""
    if torch.device(device).type != "cpu":
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def predict(model: SmallCNN, x_u8: torch.Tensor, batch_size: int = 1000, device="cpu"):
    """(features, logits) for uint8 images N×C×H×W, in eval mode (on one CPU thread, like training:
    the features do not depend on the calling process's thread count)."""
    model.eval()
    feats, logits = [], []
    with _one_cpu_thread(device), torch.no_grad():
        for i in range(0, len(x_u8), batch_size):
            f, l = model.features_and_logits(_to_input(x_u8[i:i + batch_size].to(device)))
            feats.append(f.cpu())
            logits.append(l.cpu())
    return torch.cat(feats), torch.cat(logits)


def train_classifier(dataset: str, cfg: ClassifierConfig = ClassifierConfig(), data_root=None,
                     device="cpu", log=None) -> Dict:
    """Train the classifier on ``dataset``'s train split (on one CPU thread); returns
    {"state_dict", "meta"}."""
    with _one_cpu_thread(device):
        return _train_classifier(dataset, cfg, data_root, device, log)


def _train_classifier(dataset: str, cfg: ClassifierConfig, data_root, device, log) -> Dict:
    from ..data import DATASETS, load

    info = DATASETS.get(dataset)
    if info.kind != "image":
        raise ClassifierUnavailable(f"eval.extractor 'classifier' needs an image dataset; {dataset!r} is {info.kind}")
    if not info.labelled:
        raise ClassifierUnavailable(
            f"eval.extractor 'classifier' needs class labels, but dataset {dataset!r} is unlabelled; "
            f"use extractor 'inception-offline' (or 'inception' with weights_path)")
    if min(info.shape[1:]) < MIN_SIZE:
        raise ClassifierUnavailable(
            f"eval.extractor 'classifier' needs images of at least {MIN_SIZE}x{MIN_SIZE}; dataset {dataset!r} has "
            f"{info.shape[1]}x{info.shape[2]}; use extractor 'inception-offline' or 'inception' (they resize)")
    train = load(dataset, "train", data_root)
    test = load(dataset, "test", data_root)
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    c, h, w = info.shape
    model = SmallCNN(c, (h, w), info.num_classes, cfg.width, cfg.feat_dim).to(device)
    n = len(train)
    steps_per_epoch = max(1, n // cfg.batch_size)
    total = max(cfg.epochs * steps_per_epoch, cfg.min_steps)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.15)
    x_all, y_all = train.x, train.y
    model.train()
    step = 0
    while step < total:
        perm = torch.randperm(n, generator=g)
        for i in range(steps_per_epoch):
            if step >= total:
                break
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            xb = _to_input(x_all[idx]).to(device)
            # light augmentation: random shifts of up to 2 pixels (seeded)
            dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(model(xb), y_all[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if log and step % 200 == 0:
                log(f"classifier {dataset}: step {step}/{total} loss {loss.item():.4f}")
    model.eval()
    _, logits = predict(model, test.x, device=device)
    acc = (logits.argmax(1) == test.y).float().mean().item()
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta = dict(dataset=dataset, in_ch=c, hw=[h, w], num_classes=info.num_classes, width=cfg.width,
                feat_dim=cfg.feat_dim, test_accuracy=float(acc), n_train=n, n_test=len(test), steps=total,
                train_seconds=round(time.perf_counter() - t0, 2), config=asdict(cfg),
                weights_sha256=sha256_state_dict(sd))
    return {"state_dict": sd, "meta": meta}


_MEMO: Dict[str, Tuple[SmallCNN, Dict]] = {}


def get_classifier(dataset: str, cache_dir: Optional[str] = None, data_root=None, device="cpu",
                   cfg: ClassifierConfig = ClassifierConfig()) -> Tuple[Path, Dict]:
    """Path of the cached classifier for ``dataset`` (training it first when absent) and its meta."""
    path = classifier_path(dataset, cfg, cache_dir)
    if not path.exists():
        blob = train_classifier(dataset, cfg, data_root=data_root, device=device)
        atomic_torch_save(blob, path)
        return path, blob["meta"]
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return path, blob["meta"]


def load_classifier(path) -> Tuple[SmallCNN, Dict]:
    """Model (eval mode) and meta from a cached classifier file (memoised per file and mtime)."""
    path = Path(path)
    key = f"{path.resolve()}:{path.stat().st_mtime_ns}"
    if key not in _MEMO:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(blob["meta"])
        model.load_state_dict(blob["state_dict"])
        model.eval().requires_grad_(False)
        _MEMO[key] = (model, blob["meta"])
    return _MEMO[key]
