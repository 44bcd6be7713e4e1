"""Cache folder resolution, atomic writes and content hashes shared by the metrics code."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..cachedir import cache_root  # noqa: F401  (re-exported)
from ..results import atomic_torch_save  # noqa: F401  (re-exported: one atomic writer)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_state_dict(state_dict) -> str:
    """Hash of a state dict's names, dtypes, shapes and values (independent of file format)."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def short_hash(obj: Any, n: int = 12) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


_FILE_HASHES: dict = {}


def file_hash(path) -> str:
    """sha256 of a file, memoised per (resolved path, size, mtime)."""
    p = str(Path(path).resolve())
    st = os.stat(p)
    key = f"{p}:{st.st_size}:{st.st_mtime_ns}"
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = sha256_file(p)
    return _FILE_HASHES[key]
