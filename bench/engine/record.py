"""The run record (schema in bench/results.py) built from a member's state, and the
description of the environment that produced it."""
from __future__ import annotations

import functools
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from .. import __version__
from ..config import RunSpec
from ..results import RECORD_SCHEMA

CKPT_NAME = "latest.pt"


@functools.lru_cache(maxsize=1)
def _git_sha() -> Optional[str]:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


def ray_node_id() -> Optional[str]:
    """The Ray node this process runs on, when Ray is initialised in it (a Tune trial, or a
    driver connected to a cluster); None otherwise. Never imports Ray: a process that has not
    imported it is not a Ray process."""
    ray = sys.modules.get("ray")
    if ray is None:
        return None
    try:
        if not ray.is_initialized():
            return None
        return ray.get_runtime_context().get_node_id()
    except Exception:  # a half-imported or shut-down Ray says nothing reliable
        return None


def environment() -> Dict[str, Any]:
    """Software versions and where the record was made (``hostname``, ``ray_node_id``; the
    device is ``cost.device``)."""
    import torchvision

    try:
        import torch_fidelity

        tf_version = torch_fidelity.__version__
    except Exception:  # pragma: no cover - optional at import time
        tf_version = None
    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
            "torch_fidelity": tf_version, "ganbench": __version__, "git_sha": _git_sha(),
            "platform": platform.platform(), "hostname": socket.gethostname(), "ray_node_id": ray_node_id()}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def make_record(spec: RunSpec, run, status: str, reason: Optional[str], diverged_step,
                wall_s: Optional[float], suite: Optional[str], out: Optional[Path]) -> Dict[str, Any]:
    """The record of ``spec``'s run; ``run`` (a bench.engine.Run) may be None for a run that
    never started (its record then says so: no steps, no scores)."""
    arch = run.arch if run else spec.model
    steps_done = run.step if run else 0
    train_s = run.train_s if run else 0.0
    artifacts = {}
    if out is not None:
        for key, rel in [("samples", "samples/final.png"), ("interpolation", "samples/interpolation.png"),
                         ("points", "samples/points_final.npy"), ("checkpoint", f"checkpoints/{CKPT_NAME}")]:
            if (out / rel).exists():
                artifacts[key] = rel
    return {
        "schema": RECORD_SCHEMA,
        "run_id": spec.run_id,
        "keys": {"loss": spec.loss, "dataset": spec.dataset, "model": arch, "seed": spec.seed, "suite": suite},
        "status": status,
        "reason": reason,
        "diverged_step": diverged_step,
        "collapsed": run.collapsed if run else None,
        "config": spec.identity(),
        "resolved": {"n_critic": run.n_critic if run else None, "model": arch,
                     "lr_g": spec.optim.g_lr, "lr_d": spec.optim.d_lr},
        "counts": {"d_steps": steps_done, "g_steps": run.g_steps if run else 0},
        "metrics": {"final": run.final if run else {}, "best": run.best if run else {},
                    "init": run.init if run else {}, "select": run.select if run else {},
                    "best_step": run.best_step if run else {}, "provenance": run.provenance if run else {},
                    "selection": spec.eval.selection},
        "curves": run.curves if run else {},
        "restarts": run.restarts if run else [],
        "cost": {"wall_s": wall_s, "train_s": train_s, "eval_s": run.eval_s if run else 0.0,
                 "steps_per_s": steps_done / train_s if train_s > 0 else None,
                 "device": device_name(torch.device(spec.device)), "threads": torch.get_num_threads(),
                 "throughput": run.throughput if run else []},
        "environment": environment(),
        "artifacts": artifacts,
    }
