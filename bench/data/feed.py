"""In-memory batch feed: the whole dataset lives on the training device; each step draws a
batch by index. Epochs are permutations derived from (seed, epoch), so the batch of any step
is a pure function of (seed, step) and resuming needs no saved sampler state."""
from __future__ import annotations

import torch


class BatchFeed:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int, kind: str):
        if batch_size > x.shape[0]:
            raise ValueError(f"batch_size {batch_size} exceeds the dataset size {x.shape[0]}")
        self.x, self.y, self.kind = x, y, kind
        self.batch_size = batch_size
        self.seed = int(seed)
        self.per_epoch = x.shape[0] // batch_size
        self._epoch = -1
        self._perm = None

    def _perm_for(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.x.shape[0], generator=g).to(self.x.device)
            self._epoch = epoch
        return self._perm

    def indices(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.per_epoch)
        return self._perm_for(epoch)[i * self.batch_size:(i + 1) * self.batch_size]

    def batch(self, step: int):
        idx = self.indices(step)
        x = self.x[idx]
        x = x.float().div_(127.5).sub_(1.0) if self.kind == "image" else x.float()
        return x, self.y[idx]
