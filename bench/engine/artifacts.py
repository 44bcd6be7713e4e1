"""What a run leaves in its folder besides the record: checkpoints (solo format, for solo and
packed runs alike), sample grids and scatter plots, and the start/end event log."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from ..results import atomic_torch_save
from .record import CKPT_NAME


def read_checkpoint(out: Optional[Path], run_id: str) -> Optional[Dict[str, Any]]:
    """The latest checkpoint under a run folder, loaded on the CPU (``load_state_dict`` moves
    it to the run's device), or None where there is none or it belongs to another run.
    Raises if the file cannot be read."""
    path = Path(out) / "checkpoints" / CKPT_NAME if out is not None else None
    if path is None or not path.exists():
        return None
    ck = torch.load(path, map_location="cpu", weights_only=False)
    return ck if ck.get("run_id") == run_id else None


def write_checkpoint(run, out: Path) -> None:
    atomic_torch_save(run.state_dict(), out / "checkpoints" / CKPT_NAME)


def event(out: Optional[Path], name: str, step: int, status: Optional[str] = None) -> None:
    """Append a start or end event to ``events.jsonl`` (a suite shows from it that no finished
    run was trained twice)."""
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "events.jsonl", "a") as fh:
        fh.write(json.dumps({"event": name, "step": step, "status": status, "time": time.time()}) + "\n")


def write_samples(run, out: Path) -> None:
    import torchvision.utils as vutils

    sdir = out / "samples"
    sdir.mkdir(parents=True, exist_ok=True)
    final = run.step == run.spec.steps
    if run.info.kind == "points":
        pts = run.sample_fn(run.spec.eval.seed + 1)(2500).numpy()
        plot_points(pts, run.info, sdir / f"step_{run.step:07d}.png")
        if final:
            import numpy as np

            np.save(sdir / "points_final.npy", pts.astype("float32"))
            plot_points(pts, run.info, sdir / "final.png")
        return
    imgs = run.sample_fn(run.spec.eval.seed + 1)(64)
    grid = (imgs.clamp(-1, 1) + 1) / 2
    vutils.save_image(grid, sdir / f"step_{run.step:07d}.png", nrow=8, padding=2)
    if final:
        vutils.save_image(grid, sdir / "final.png", nrow=8, padding=2)
        z, _ = run.fixed_latents(16, run.spec.eval.seed + 2)
        a, b = z[:8], z[8:]
        w = torch.linspace(0, 1, 10, device=z.device).view(1, 10, 1)
        path = (a.unsqueeze(1) * (1 - w) + b.unsqueeze(1) * w).reshape(80, -1)
        strip = (run.generate(path).clamp(-1, 1) + 1) / 2
        vutils.save_image(strip, sdir / "interpolation.png", nrow=10, padding=2)


def plot_points(pts, info, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, label="generated")
    modes = info.extras.get("modes")
    if modes is not None:
        ax.scatter(modes[:, 0], modes[:, 1], s=30, marker="x", c="red", label="modes")
    lim = float(abs(modes).max()) * 1.5 if modes is not None else 5.0
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
