import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
torch.set_num_threads(1)  # tests are small; one thread avoids oversubscription on 2-core machines


def real_data_root(*datasets: str) -> Path:
    """The real-data root from GANBENCH_DATA. Skips where the variable is unset; fails where it
    is set but the requested datasets' files are missing (so CI never skips silently)."""
    root = os.environ.get("GANBENCH_DATA")
    if not root:
        pytest.skip("GANBENCH_DATA is not set (real MNIST / Fashion-MNIST files)")
    folders = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
    for ds in datasets or ("mnist",):
        raw = Path(root) / folders[ds] / "raw"
        for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                  "t10k-labels-idx1-ubyte"):
            if not (raw / f).exists():
                pytest.fail(f"GANBENCH_DATA={root} is set but {raw / f} is missing")
    return Path(root)


@pytest.fixture
def data_root():
    return real_data_root("mnist", "fashion-mnist")


def changed(base: dict, **changes) -> dict:
    """A deep copy of a suite dict with ``a__b__c=value`` settings changed (missing levels made)."""
    d = json.loads(json.dumps(base))
    for path, v in changes.items():
        node = d
        parts = path.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = v
    return d


def table_core(path) -> pd.DataFrame:
    """A suite's runs.parquet without what legitimately differs between two executions of the same
    runs (wall time, host, evaluation timing, thread count), sorted by run id."""
    df = pd.read_parquet(path)
    keep = [c for c in df.columns if not c.startswith(("cost.", "env.", "eval.")) and c != "param.threads"]
    return df[keep].sort_values("run_id").reset_index(drop=True)


def curves(path) -> pd.DataFrame:
    """A suite's curves.parquet in a fixed order."""
    return pd.read_parquet(path).sort_values(["run_id", "name", "step"]).reset_index(drop=True)
