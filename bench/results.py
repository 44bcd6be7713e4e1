"""Run records on disk: atomic writes, the record schema, and collect() into one table.

Record schema (``record.json``, version ``RECORD_SCHEMA``):
    schema, run_id, keys{loss, dataset, model, seed, suite}, status ("done" | "diverged" |
    "failed" | "running"), reason, diverged_step, collapsed, config (the resolved RunSpec
    without runtime fields), counts{d_steps, g_steps}, metrics{final, best, best_step, init,
    select, selection, provenance}, curves{name: [[step, value], ...]}, cost{wall_s, train_s, eval_s,
    steps_per_s, device, threads}, environment{python, torch, torchvision, torch_fidelity,
    ganbench, git_sha, platform, hostname, ray_node_id}, artifacts{samples, interpolation, points,
    checkpoint}.

Provenance: where a record was made is ``environment.hostname`` (``socket.gethostname()`` of the
process that wrote it), ``environment.ray_node_id`` (the Ray node id when that process runs with Ray
initialised -- a Tune trial -- else null) and ``cost.device`` (the CPU or GPU model). collect()
flattens them to the columns ``env.hostname``, ``env.ray_node_id`` and ``cost.device``; records made
before the two environment fields existed lack them and collect as null. ``ganbench merge``
(bench.merge) combines results folders made on several machines and keeps these fields as they are.

``metrics.best`` is the reported score of the selected checkpoint (on ``eval.ref_split``);
``metrics.select`` the score that chose it (the validation split under ``eval.selection:
validation``, the same as ``best`` under ``test``). Choosing a configuration or promoting a run
reads ``select`` (:func:`selection_score`), reporting reads ``best``."""
from __future__ import annotations
from .errors import CorruptRecord  # noqa: F401

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

RECORD_SCHEMA = 1
RECORD_NAME = "record.json"


def selection_score(rec: Dict[str, Any], metric: str) -> Optional[float]:
    """The score of ``metric`` that selection may use: ``metrics.select`` (never the reported
    split under validation selection); records made before it existed fall back to ``best``."""
    m = rec.get("metrics") or {}
    v = (m.get("select") or m.get("best") or {}).get(metric)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n").encode())


def atomic_torch_save(obj: Any, path: Path) -> None:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def read_record(run_dir: Path) -> Optional[Dict[str, Any]]:
    """The run's record, None if it has none; CorruptRecord if it cannot be parsed."""
    p = Path(run_dir) / RECORD_NAME
    if not p.exists():
        return None
    try:
        rec = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptRecord(f"{p}: unreadable record ({e})") from None
    if not isinstance(rec, dict) or "status" not in rec or "run_id" not in rec:
        raise CorruptRecord(f"{p}: record lacks 'status' or 'run_id'")
    return rec
