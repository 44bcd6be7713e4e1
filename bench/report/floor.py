"""The "real data" row of the report's image tables (:mod:`bench.metrics.floor`): per image
dataset, the evaluation settings its runs used (the most common combination when they differ)
and the scores of real training images against the same reference split. Where the floor
cannot be computed the row says why."""
from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter

import pandas as pd

__all__ = ["real_data_floors", "attach_floors", "FLOOR_LABEL"]

FLOOR_LABEL = "Real data (train vs test)"


def _settings(row: pd.Series) -> dict | None:
    from bench.config import EvalSpec

    out = {}
    for f in dataclasses.fields(EvalSpec):
        col = f"param.eval.{f.name}"
        if col not in row.index:
            continue
        v = row[col]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if f.name == "metrics" and isinstance(v, str):
            v = json.loads(v)
        elif isinstance(v, float) and v.is_integer() and f.name != "mode_threshold":
            v = int(v)
        out[f.name] = v
    return out if "extractor" in out or "num_samples" in out else None


def real_data_floors(runs: pd.DataFrame, *, data_root=None, cache_dir=None, device="cpu") -> dict[str, dict]:
    """``{dataset: {"values": {...} or {}, "note": str}}`` for every image dataset of ``runs``."""
    from bench.data import DATASETS
    from bench.metrics.floor import real_data_scores

    out: dict[str, dict] = {}
    if runs.empty or "dataset" not in runs:
        return out
    for ds, g in runs.groupby("dataset", sort=True):
        if ds not in DATASETS or DATASETS.get(ds).kind != "image":
            continue
        if "status" in g:
            g = g[g["status"].isin(["done", "stopped"])] if g["status"].isin(["done", "stopped"]).any() else g
        combos = Counter(json.dumps(s, sort_keys=True) for s in (_settings(r) for _, r in g.iterrows()) if s)
        if not combos:
            out[ds] = {"values": {}, "note": "not computed: the runs do not record their evaluation settings"}
            continue
        (blob, count), = combos.most_common(1)
        settings = json.loads(blob)
        note = "" if len(combos) == 1 else f"settings of {count} of {sum(combos.values())} runs (the most common)"
        try:
            r = real_data_scores(ds, settings, data_root=data_root, cache_dir=cache_dir, device=device)
        except Exception as exc:  # the report must still be written: say why the row is empty
            out[ds] = {"values": {}, "note": f"not computed: {type(exc).__name__}: {exc}".strip()}
            continue
        p = r["provenance"]
        desc = (f"{p.get('n_fake')} {p.get('real_split', 'train')} images vs {p.get('n_real')} "
                f"{p.get('ref_split')} images, extractor {p.get('extractor')}")
        out[ds] = {"values": r["values"], "note": "; ".join(x for x in (desc, note) if x)}
    return out


def attach_floors(tables, floors: dict[str, dict]) -> None:
    """Set ``table.floor`` = ``{column: (value or None, note)}`` for the columns of image datasets."""
    for t in tables:
        fl = {}
        if "dataset" not in t.cells:
            continue
        for _, c in t.cells.drop_duplicates("column").iterrows():
            f = floors.get(c["dataset"])
            if f is None:
                continue
            v = f["values"].get(t.metric.key)
            fl[c["column"]] = (v, f["note"] if v is not None or f["note"].startswith("not computed")
                               else f"{t.metric.label} not computed by these settings")
        t.floor = fl
