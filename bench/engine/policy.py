"""What the engine imposes on every step kind, written once: instance noise, weight clipping,
fault injection (NaN in D's output), divergence marking, when gradient norms are taken, and
which runs may pack together. A solo step and a packed step call these same functions; only
the shapes differ (a packed step's tensors carry a leading run axis)."""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

import torch

from ..config import RunSpec
from ..errors import PackError
from ..losses import LOSSES
from ..losses.base import DOut
from ..models.priors import sigma_regulariser


def instance_noise(x: torch.Tensor, step: int, spec: RunSpec, gens: Sequence[torch.Generator],
                   batched: bool) -> torch.Tensor:
    """Gaussian noise on D's inputs, std decayed linearly from ``stabilise.instance_noise`` to 0.
    Each run draws from its own stream (``gens``: one per run; a batched ``x`` has a leading run
    axis), so a packed run draws exactly what its solo run draws."""
    s0 = spec.stabilise.instance_noise
    if s0 <= 0:
        return x
    sigma = s0 * max(0.0, 1.0 - step / spec.steps)
    if not batched:
        return x + sigma * torch.randn(x.shape, generator=gens[0], device=x.device)
    return x + sigma * torch.stack([torch.randn(x.shape[1:], generator=g, device=x.device) for g in gens])


def pac(x: torch.Tensor, m: int, batched: bool) -> torch.Tensor:
    """PacGAN's packing of D's input: m·B samples -> B rows of m samples concatenated along the
    first feature axis (consecutive sub-batches of B are the m independent draws of a row). A
    batched ``x`` keeps its leading run axis."""
    if m == 1:
        return x
    lead = 1 if batched else 0
    n, rest = x.shape[lead], tuple(x.shape[lead + 1:])
    x = x.reshape(*x.shape[:lead], m, n // m, *rest).movedim(lead, lead + 1)
    return x.reshape(*x.shape[:lead], n // m, m * rest[0], *rest[1:])


def clip_weights(params: Iterable[torch.Tensor], clip: Optional[float]) -> None:
    """WGAN's weight clipping to [-clip, clip] after each D update (no-op when ``clip`` is None)."""
    if clip is None:
        return
    with torch.no_grad():
        for p in params:
            p.clamp_(-clip, clip)


def nan_mask(specs: Sequence[RunSpec], step: int) -> Optional[List[bool]]:
    """Fault injection (``debug.nan_at_step`` / ``debug.nan_seeds``): which runs get a NaN in D's
    output at ``step``; None when none does."""
    dbg = specs[0].debug
    if dbg.nan_at_step is None or step < dbg.nan_at_step:
        return None
    mask = [dbg.nan_seeds is None or s.seed in dbg.nan_seeds for s in specs]
    return mask if any(mask) else None


def with_nan(D, mask: Optional[List[bool]], batched: bool):
    """D, or D whose score turns NaN for the runs in ``mask``. Additive, so the backward pass of
    healthy packed runs never multiplies by NaN."""
    if mask is None:
        return D

    def fn(x):
        out = D(x)
        if not batched:
            return DOut(out.score + float("nan"), out.aux)
        m = torch.tensor(mask, device=out.score.device).view(-1, *([1] * (out.score.dim() - 1)))
        return DOut(out.score + torch.where(m, float("nan"), 0.0), out.aux)
    return fn


def with_sigma_reg(g_loss: torch.Tensor, glogs, sigma: torch.Tensor, weight: float):
    """G's loss plus DeLiGAN's regulariser of the mixture prior's learned scales ``sigma``
    (``z_mixture.sigma_reg``; a packed ``sigma`` has a leading run axis), and the logs with the
    term as ``g_sigma_reg``."""
    reg = sigma_regulariser(sigma, weight)
    return g_loss + reg, {**glogs, "g_sigma_reg": reg}


def mark_bad(first_bad: torch.Tensor, loss: torch.Tensor, step: int) -> torch.Tensor:
    """Keep the first step whose loss is non-finite, as a device tensor (no host sync); works
    elementwise, so packed runs keep one first step each."""
    return torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)


def g_norm_wanted(step: int, n_critic: int, log_every: int, steps: int) -> bool:
    """Whether the G update at ``step`` is the last one before a logging point (its gradient
    norm is the one logged there)."""
    return (step + n_critic) // log_every != step // log_every or step + n_critic >= steps


def grad_norm(module: torch.nn.Module) -> torch.Tensor:
    norms = [p.grad.detach().norm(2) for p in module.parameters() if p.grad is not None]
    return torch.stack(norms).norm(2) if norms else torch.zeros(())


def per_run_grad_norm(params) -> torch.Tensor:
    """Gradient norm of each run of a packed set of parameters (leading run axis)."""
    sq = [p.grad.detach().flatten(1).pow(2).sum(1) for p in params.values() if p.grad is not None]
    return torch.stack(sq).sum(0).sqrt()


# ---- packing: one rule ------------------------------------------------------------------------
def pack_refusal(spec: RunSpec) -> Optional[str]:
    """Why this run cannot train packed with others, or None if it can. The one packability
    rule: the grouping of a suite's runs and the check of a packed unit both use it."""
    if not LOSSES.get(spec.loss).caps.packable:
        return f"objective {spec.loss!r} does not pack (see `ganbench list losses`)"
    f = spec.fast
    if f.bf16 or f.channels_last or f.compile:
        return ("the fast paths (fast.bf16, fast.channels_last, fast.compile) are not combined with "
                "packing yet: pack without them, or run unpacked")
    if spec.debug.crash_at_step is not None:
        return "debug.crash_at_step kills the whole process and cannot be packed"
    if spec.model_params.get("d_norm") == "spectral":
        return ("model_params.d_norm = 'spectral': its power iteration updates D's buffers in place during "
                "the forward pass, which the vmapped packed step does not carry; these runs train unpacked")
    return None


def pack_key(spec: RunSpec) -> str:
    """Runs pack together when they agree on everything but the seed."""
    import json

    return json.dumps({k: v for k, v in spec.identity().items() if k != "seed"}, sort_keys=True)


def check_packable(specs: Sequence[RunSpec]) -> None:
    if not specs:
        raise PackError("nothing to pack")
    if len({pack_key(s) for s in specs}) != 1:
        raise PackError("packed runs must differ only in seed")
    if len({s.seed for s in specs}) != len(specs):
        raise PackError("packed runs need distinct seeds")
    why = pack_refusal(specs[0])
    if why is not None:
        raise PackError(why)
