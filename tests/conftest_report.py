"""Synthetic results for the report tests (imported by the test modules, not a conftest).

``make_results_dir(root)`` writes a realistic ``results/<suite>/`` tree: runs.parquet
with a plain seeds grid (MNIST, Ring-8) and a searched cell (Fashion-MNIST: wide search
+ final phase), a diverged run, a failed run without samples, a collapsed run,
curves.parquet, sample grids, interpolation strips, 2-D points and suite.yaml.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

FID = "metric.best.frechet_inception_distance"

_ENV = {"env.ganbench": "0.1.0", "env.torch": "2.14.1", "env.python": "3.12.3", "env.git_sha": "abc1234"}


def base_row(run_id, loss, dataset, seed, status="done", **extra) -> dict:
    row = {
        "run_id": run_id,
        "suite": "synthetic",
        "loss": loss,
        "dataset": dataset,
        "model": "infogan" if dataset != "ring8" else "mlp",
        "seed": seed,
        "status": status,
        "reason": None,
        "collapsed": False,
        "param.optim.lr_g": 2e-4,
        "param.optim.lr_d": 2e-4,
        "param.n_critic": 5 if loss.startswith("wgan") else 1,
        "param.batch_size": 64,
        "param.steps": 1000,
        "search.phase": "grid",
        "search.config_id": f"cfg-{loss}-{dataset}",
        "search.sample": None,
        "eval.extractor": "inception" if dataset != "ring8" else "modes",
        "eval.extractor_hash": "deadbeef" if dataset != "ring8" else "none",
        "eval.n_real": 10000,
        "eval.n_fake": 10000,
        "eval.ref_split": "test",
        "eval.selection": "best-over-checkpoints",
        "cost.wall_s": 600.0,
        "cost.train_s": 500.0,
        "cost.eval_s": 100.0,
        "cost.steps_per_s": 2.0,
        "cost.device": "cpu",
        **_ENV,
    }
    row.update(extra)
    return row


def synthetic_runs() -> pd.DataFrame:
    rows = []
    # MNIST seeds grid: FID, IS, precision/recall
    fids = {"ns": [6.5, 7.0, 7.2], "wgan-gp": [9.0, 10.0, 11.0], "lsgan": [7.0, 7.5, math.nan]}
    for loss, vals in fids.items():
        for seed, f in enumerate(vals):
            status = "diverged" if math.isnan(f) else "done"
            extra = {
                FID: None if math.isnan(f) else f,
                "metric.final.frechet_inception_distance": None if math.isnan(f) else f + 1.0,
                "metric.best.inception_score_mean": None if math.isnan(f) else 9.0 - f / 10,
                "metric.best.precision": None if math.isnan(f) else 0.7 - f / 100,
                "metric.best.recall": None if math.isnan(f) else 0.5 + seed / 100,
                "reason": "NaN in d_loss at step 412" if status == "diverged" else None,
                "cost.steps_per_s": 2.0 + seed,
                "cost.wall_s": 600.0 + 60 * seed,
            }
            rows.append(base_row(f"mnist-{loss}-{seed}", loss, "mnist", seed, status, **extra))
    # Ring-8: modes metrics; one collapsed run, one failed run
    for loss, covered in {"ns": [8, 7, 3], "wgan-gp": [8, 8, None]}.items():
        for seed, c in enumerate(covered):
            status = "failed" if c is None else "done"
            rows.append(
                base_row(
                    f"ring8-{loss}-{seed}", loss, "ring8", seed, status,
                    **{
                        "metric.best.modes_covered": c,
                        "metric.best.high_quality_fraction": None if c is None else 0.1 * c + 0.1,
                        "metric.best.mode_kl": None if c is None else 0.05 * (8 - c),
                        "collapsed": None if c is None else c < 4,
                        "reason": "RuntimeError: CUDA out of memory" if c is None else None,
                        "cost.device": "NVIDIA H100",
                    },
                )
            )
    # Fashion-MNIST: searched (wide, 4 configs, one failed) then final over 3 seeds
    for loss, wide in {"ns": [40.0, 30.0, None, 35.0], "wgan": [33.0, 28.0, 31.0, 45.0]}.items():
        for i, f in enumerate(wide):
            rows.append(
                base_row(
                    f"fm-{loss}-wide{i}", loss, "fashion-mnist", 0, "done" if f is not None else "failed",
                    **{FID: f, "search.phase": "wide", "search.config_id": f"{loss}-w{i}", "search.sample": i,
                       "reason": None if f is not None else "ValueError: lr out of range"},
                )
            )
        best = int(np.nanargmin([np.nan if f is None else f for f in wide]))
        for seed, f in enumerate([30.0, 31.0, 32.0] if loss == "ns" else [27.0, 28.0, 29.5]):
            rows.append(
                base_row(f"fm-{loss}-final{seed}", loss, "fashion-mnist", seed,
                         **{FID: f, "search.phase": "final", "search.config_id": f"{loss}-w{best}"})
            )
    df = pd.DataFrame(rows)
    df["collapsed"] = df["collapsed"].astype("boolean")
    df["search.sample"] = df["search.sample"].astype("Int64")
    return df


def synthetic_curves(runs: pd.DataFrame) -> pd.DataFrame:
    recs = []
    rng = np.random.default_rng(0)
    for rid, ds in zip(runs["run_id"], runs["dataset"]):
        for step in range(0, 1001, 100):
            t = step / 1000
            for name, v in [("d_loss_real", 0.7 - 0.2 * t), ("d_loss_fake", 0.6 - 0.1 * t), ("d_loss", 1.3 - 0.3 * t),
                            ("g_loss", 0.8 + 0.5 * t), ("grad_norm_d", 1.0 + t), ("grad_norm_g", 0.5 + t),
                            ("d_real", 0.6), ("d_fake", 0.4)]:
                recs.append((rid, step, name, float(v + 0.02 * rng.standard_normal())))
            if ds != "ring8" and step % 250 == 0:
                recs.append((rid, step, "eval.frechet_inception_distance", 100.0 * math.exp(-3 * t) + 7))
    return pd.DataFrame(recs, columns=["run_id", "step", "name", "value"])


def _png(path: Path, w: int, h: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_results_dir(root: Path, suite: str = "synthetic") -> Path:
    """Write a synthetic ``results/<suite>`` tree under ``root``; returns its path."""
    d = Path(root) / suite
    d.mkdir(parents=True, exist_ok=True)
    runs = synthetic_runs()
    runs.to_parquet(d / "runs.parquet", index=False)
    synthetic_curves(runs).to_parquet(d / "curves.parquet", index=False)
    (d / "suite.yaml").write_text(f"name: {suite}\nversion: 3\n", encoding="utf-8")
    for i, r in runs.iterrows():
        if r["status"] == "failed":
            continue  # failed runs leave no samples: the report must cope
        s = d / "runs" / r["run_id"] / "samples"
        _png(s / "final.png", 4 * 28, 4 * 28, i)
        _png(s / "interpolation.png", 10 * 28, 28, 1000 + i)
        if r["dataset"] == "ring8":
            s.mkdir(parents=True, exist_ok=True)
            ang = 2 * np.pi * np.arange(8) / 8
            rng = np.random.default_rng(i)
            k = rng.integers(0, 8 if not r["collapsed"] else 2, 500)
            pts = np.stack([2 * np.cos(ang[k]), 2 * np.sin(ang[k])], 1) + 0.02 * rng.standard_normal((500, 2))
            np.save(s / "points_final.npy", pts.astype(np.float32))
    return d
