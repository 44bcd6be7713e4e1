"""The real-data floor of an image table: every metric of ``evaluate()`` between real training
images (in place of generated ones) and the reference split, at the same sample counts,
extractor and metric settings as the runs. No generator can be expected to beat it; an FID is
read against it.

Computed once per (dataset, extractor, settings) and cached as JSON beside the reference
statistics (``<cache>/floor/``). It reads only the dataset: no run's score changes.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any, Dict

import torch

from .cache import cache_root
from .settings import _spec_dict, resolve_extractor

__all__ = ["real_data_scores", "FLOOR_SEED", "FLOOR_SPLIT", "FLOOR_FORMAT"]

FLOOR_SEED = 0  # the training images standing in for samples: a fixed random subset
FLOOR_SPLIT = "train"
FLOOR_FORMAT = 1  # bump when cached floors change meaning
# settings that change the numbers (the rest -- every, seed, batch size -- do not)
_KEYS = ("extractor", "metrics", "num_samples", "num_real", "ref_split", "kid_subset_size", "weights_path")


def _key(dataset: str, extractor: str, s: Dict[str, Any]) -> str:
    from .evaluation import CACHE_FORMAT

    blob = json.dumps({"dataset": dataset, "extractor": extractor, "format": FLOOR_FORMAT, "cache": CACHE_FORMAT,
                       "split": FLOOR_SPLIT, "seed": FLOOR_SEED,
                       **{k: (sorted(s[k]) if k == "metrics" else s[k]) for k in _KEYS}}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def real_data_scores(dataset: str, spec=None, *, data_root=None, cache_dir=None, device="cpu") -> Dict[str, Any]:
    """``{"values": {metric key: value}, "provenance": {...}, "cached": bool}``: ``evaluate()``
    with ``num_samples`` real images of the training split (a fixed random subset, seed
    :data:`FLOOR_SEED`) as the "generator", against the same reference images as every run.
    Raises ``MetricsError`` / ``ValueError`` where it cannot be computed (training split smaller
    than ``num_samples``, missing data or weights)."""
    from ..data import DATASETS, dataset_cache_key, load
    from ..errors import MetricsError
    from .evaluation import evaluate

    s = _spec_dict(spec)
    info = DATASETS.get(dataset)
    extractor = resolve_extractor(s["extractor"], info)
    key = dataset_cache_key(info)  # a user dataset's includes the hash of its files
    path = cache_root(cache_dir) / "floor" / f"{key}-{extractor}-{_key(key, extractor, s)}.json"
    if path.exists():
        out = json.loads(path.read_text(encoding="utf-8"))
        out["cached"] = True
        return out
    train = load(dataset, FLOOR_SPLIT, data_root)
    n = int(s["num_samples"])
    if n > len(train):
        raise MetricsError(f"real-data floor of {dataset!r}: eval.num_samples = {n} is larger than the "
                           f"{FLOOR_SPLIT!r} split ({len(train)} images)")
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(FLOOR_SEED))[:n]
    x = train.x[idx]
    scores = evaluate(lambda k: x[:k], dataset, s, device=device, data_root=data_root, cache_dir=cache_dir)
    prov = {k: v for k, v in scores.provenance.items() if isinstance(v, (str, int, float, bool)) or v is None}
    prov.update(real_split=FLOOR_SPLIT, real_subset=f"random subset of {n}, seed {FLOOR_SEED}")
    out = {"values": {k: float(v) for k, v in scores.values.items()}, "provenance": prov}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    out["cached"] = False
    return out
