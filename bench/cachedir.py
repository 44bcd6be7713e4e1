"""Where ganbench caches what it computes once (classifiers, reference statistics, decoded user
datasets): a leaf module, so the data and the metrics code can both use it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def cache_root(cache_dir: Optional[str] = None) -> Path:
    """``cache_dir`` argument, else ``$GANBENCH_CACHE``, else ``~/.cache/ganbench``."""
    if cache_dir:
        p = Path(cache_dir)
    elif os.environ.get("GANBENCH_CACHE"):
        p = Path(os.environ["GANBENCH_CACHE"])
    else:
        p = Path.home() / ".cache" / "ganbench"
    p.mkdir(parents=True, exist_ok=True)
    return p
