"""The likelihood step kind: one run whose model trains on one loss with no adversary -- a VAE.

An objective says which step it needs (``Caps.step``: ``adversarial``, the default, or
``likelihood``). Here the run's D network is the encoder (its auxiliary head outputs q(z|x)'s
mean and log-variance) and G the decoder; each step draws the batch of ``step`` and minimises the
objective's ``loss(encoder, decoder, real, ctx)`` over both, each with its optimiser. The loop
(schedule, divergence, evaluation of G's samples, checkpoints, records) is the GAN runs' loop."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch

from ..losses.base import StepCtx
from .member import Run
from .policy import grad_norm
from .solo import OneRun

Logs = Dict[str, torch.Tensor]


class LikelihoodStep(OneRun):
    batched = False
    loss_keys = ("loss",)  # what the loop watches for divergence

    def __init__(self, run: Run):
        self.members: List[Run] = [run]
        self.run = run
        self.n_critic = 1

    def step(self, step: int, want_d_norm: bool = False, want_g_norm: bool = False) -> Tuple[Logs, Optional[Logs]]:
        run = self.run
        real, y = run.feed.batch(step)
        ctx = StepCtx(y_real=y, gen=run.gen_z, state=run.state)
        run.opt_d.zero_grad(set_to_none=True)
        run.opt_g.zero_grad(set_to_none=True)
        with run.autocast():
            loss, logs = run.objective.loss(run.D_fwd, run.G_fwd, real, ctx)
        loss.sum().backward()
        side = {"loss": loss.detach(), **{k: v.detach() for k, v in logs.items()}}
        if want_d_norm:
            side["grad_norm_encoder"] = grad_norm(run.D)
            side["grad_norm_decoder"] = grad_norm(run.G)
        run.opt_d.step()
        run.opt_g.step()
        return side, None
