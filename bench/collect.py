"""collect(): merge a suite's run records into one typed table, results/<suite>/runs.parquet
(one row per run), and its curves into results/<suite>/curves.parquet (long format:
run_id, step, name, value). Corrupt records are reported and appear as rows with status
``corrupt`` (the next ``ganbench run`` redoes them); nothing is dropped silently."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import pandas as pd

from .results import CorruptRecord, atomic_write_bytes, read_record

METRIC_SELECTION = "best-over-checkpoints"


def _flat(prefix: str, d: Dict[str, Any], out: Dict[str, Any]) -> None:
    for k, v in d.items():
        key = f"{prefix}.{k}"
        if isinstance(v, dict):
            _flat(key, v, out)
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v)
        else:
            out[key] = v


# what a search run's record says of its budget and, under successive halving, of its rung
SEARCH_BUDGET_KEYS = ("rung", "rungs", "rung_configs", "rung_rank", "promoted", "run_d_steps", "cell_configs",
                      "cell_runs", "cell_d_steps")


def record_row(rec: Dict[str, Any]) -> Dict[str, Any]:
    k = rec["keys"]
    row: Dict[str, Any] = {"run_id": rec["run_id"], "suite": k.get("suite"), "loss": k["loss"],
                           "dataset": k["dataset"], "model": k["model"], "seed": int(k["seed"]),
                           "status": rec["status"], "reason": rec.get("reason"),
                           "collapsed": rec.get("collapsed"), "diverged_step": rec.get("diverged_step")}
    cfg = dict(rec.get("config", {}))
    for drop in ("loss", "dataset", "seed"):
        cfg.pop(drop, None)
    _flat("param", cfg, row)
    for key, val in (rec.get("resolved") or {}).items():
        row[f"param.resolved.{key}"] = val
    s = rec.get("search") or {}
    row["search.phase"] = s.get("phase", "grid")
    row["search.config_id"] = s.get("config_id")
    row["search.sample"] = s.get("sample")
    for key in SEARCH_BUDGET_KEYS:  # search suites only (successive halving and budgets)
        if key in s:
            row[f"search.{key}"] = s[key]
    m = rec.get("metrics", {})
    for which in ("final", "best", "best_step", "init", "select"):
        for name, v in (m.get(which) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                row[f"metric.{which}.{name}"] = float(v)
    prov = m.get("provenance") or {}
    for name, v in prov.items():
        row[f"eval.{name}"] = json.dumps(v) if isinstance(v, (dict, list)) else v
    row.setdefault("eval.extractor", None)
    row["eval.selection"] = prov.get("selection", METRIC_SELECTION)
    for name, v in (rec.get("cost") or {}).items():
        if name != "throughput":
            row[f"cost.{name}"] = v
    for name, v in (rec.get("counts") or {}).items():
        row[f"counts.{name}"] = v
    for name, v in (rec.get("environment") or {}).items():
        row[f"env.{name}"] = v
    for name in ("hostname", "ray_node_id"):  # provenance; null in records made before it existed
        row.setdefault(f"env.{name}", None)
    return row


def collect(sdir: Path, run_ids: Optional[Iterable[str]] = None, log=print) -> pd.DataFrame:
    """Read the run records of ``sdir`` into ``runs.parquet`` and ``curves.parquet`` (written
    atomically); returns the runs table. The suite's driver calls it; readers use ``read_results``."""
    df, cdf = read_results(sdir, run_ids, log)
    _write_parquet(df, Path(sdir) / "runs.parquet")
    _write_parquet(cdf, Path(sdir) / "curves.parquet")
    return df


def read_results(sdir: Path, run_ids: Optional[Iterable[str]] = None, log=print):
    """(runs, curves) tables from the run records of ``sdir``, in memory: nothing is written, so
    a report can read a suite that its driver is still running."""
    sdir = Path(sdir)
    runs_root = sdir / "runs"
    wanted = list(run_ids) if run_ids is not None else sorted(p.name for p in runs_root.glob("*") if p.is_dir())
    rows: List[Dict[str, Any]] = []
    curves: List[pd.DataFrame] = []
    stale = sorted(set(p.name for p in runs_root.glob("*") if p.is_dir()) - set(wanted)) if run_ids is not None else []
    for rid in wanted:
        try:
            rec = read_record(runs_root / rid)
        except CorruptRecord as e:
            log(f"warning: {e}; reported as 'corrupt' (ganbench run redoes it)")
            rows.append({"run_id": rid, "status": "corrupt", "reason": str(e)})
            continue
        if rec is None:
            continue
        rows.append(record_row(rec))
        for name, pts in (rec.get("curves") or {}).items():
            if pts:
                c = pd.DataFrame(pts, columns=["step", "value"])
                c.insert(0, "name", name)
                c.insert(0, "run_id", rid)
                curves.append(c)
    if stale:
        log(f"note: {len(stale)} run folder(s) in {runs_root} are not part of this suite's plan (older "
            f"settings or version) and are left out of the table")
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["dataset", "loss", "seed", "run_id"], na_position="last", kind="stable").reset_index(drop=True)
        for col in df.columns:
            if col.startswith(("metric.", "cost.wall_s", "cost.train_s", "cost.eval_s", "cost.steps_per_s")):
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    cdf = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["run_id", "name", "step", "value"])
    cdf = cdf.astype({"step": "int64", "value": "float64"})
    return df, cdf


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def status_summary(sdir: Path) -> Dict[str, Any]:
    p = Path(sdir) / "runs.parquet"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no results table yet (run `ganbench run` or `ganbench collect` first)")
    df = pd.read_parquet(p)
    counts = df["status"].value_counts().to_dict() if not df.empty else {}
    bad = df[df["status"].isin(["failed", "corrupt", "diverged"])] if not df.empty else df
    return {"suite": Path(sdir).name, "runs": len(df), "by_status": counts,
            "problems": [{"run_id": r.run_id, "loss": getattr(r, "loss", None), "dataset": getattr(r, "dataset", None),
                          "seed": getattr(r, "seed", None), "status": r.status, "reason": r.reason}
                         for r in bad.itertuples()]}
