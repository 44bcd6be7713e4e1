"""Re-score a finished run's final checkpoint, e.g. with another feature extractor or more
samples. The scores go into the record under ``metrics.rescored[<extractor>/<n>]`` (the record
is rewritten atomically) and are returned."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import torch

from .validate import spec_from_dict
from .results import RECORD_NAME, atomic_write_json, read_record


def rescore(run_dir: Path, extractor: Optional[str] = None, num_samples: Optional[int] = None,
            device: str = "cpu", data_root: Optional[str] = None) -> Dict[str, Any]:
    from .metrics import evaluate
    from .engine import Run

    run_dir = Path(run_dir)
    rec = read_record(run_dir)
    if rec is None:
        raise FileNotFoundError(f"{run_dir}: no {RECORD_NAME} (is this a run folder?)")
    ck_rel = rec.get("artifacts", {}).get("checkpoint")
    if not ck_rel:
        raise FileNotFoundError(f"{run_dir}: the run has no checkpoint to score (status {rec['status']})")
    ck_path = ck_rel if "://" in ck_rel else Path(ck_rel) if Path(ck_rel).is_absolute() else run_dir / ck_rel
    cfg = dict(rec["config"])
    cfg.pop("semantics_version", None)
    if extractor:
        cfg["eval"]["extractor"] = extractor
    if num_samples:
        cfg["eval"]["num_samples"] = num_samples
        if cfg["eval"].get("kid_subset_size", 0) > num_samples:
            cfg["eval"]["kid_subset_size"] = num_samples
    cfg.update({"device": device, "data_root": data_root})
    spec = spec_from_dict(cfg, where=str(run_dir / RECORD_NAME))
    run = Run(spec)
    ck = torch.load(_open_checkpoint(ck_path), map_location=run.device, weights_only=False)
    run.load_state_dict(ck)
    scores = evaluate(run.sample_fn(spec.eval.seed), spec.dataset, spec.eval, device=device, data_root=data_root)
    out = {"step": run.step, "values": scores.values, "provenance": {**scores.provenance, "checkpoint": f"final (step {run.step})"},
           "collapsed": scores.collapsed}
    key = f"{spec.eval.extractor}/{spec.eval.num_samples}"
    rec["metrics"].setdefault("rescored", {})[key] = out
    atomic_write_json(run_dir / RECORD_NAME, rec)
    return {"run_id": rec["run_id"], "key": key, **out}


def _open_checkpoint(where):
    """A local path, or a URI into Ray Tune's storage (s3://, gs://, file://, ...) read with pyarrow."""
    if not isinstance(where, str):
        if not Path(where).exists():
            raise FileNotFoundError(f"checkpoint {where} is missing")
        return where
    import io

    import pyarrow.fs

    fs, path = pyarrow.fs.FileSystem.from_uri(where)
    try:
        with fs.open_input_stream(path) as fh:
            return io.BytesIO(fh.read())
    except (OSError, FileNotFoundError) as e:
        raise FileNotFoundError(f"checkpoint {where} cannot be read: {e}") from None
