"""The solo step kind: one run, its own unbatched kernels (a pack of one would round
differently on image networks). ``step`` is one D update and, every n_critic-th step, one G
update that reuses the generator forward of that D step (one G forward per G step, as in
PyTorch's DCGAN example)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch

from ..losses.base import StepCtx
from .member import Run
from .policy import clip_weights, grad_norm, instance_noise, nan_mask, pac, with_nan, with_sigma_reg

Logs = Dict[str, torch.Tensor]


class OneRun:
    """The loop's hooks for a step kind that trains one run: nothing to copy in or out, nothing
    to freeze; resuming loads the run's own checkpoint."""

    run: Run

    def sync_members(self) -> None:
        pass

    def freeze(self, k: int) -> None:
        pass

    def resume(self, checkpoints) -> int:
        self.run.load_state_dict(checkpoints[0])
        return self.run.step


class SoloStep(OneRun):
    """Step kind for one run: its tensors are the run's own modules and optimisers."""

    batched = False
    loss_keys = ("d_loss", "g_loss")  # what the loop watches for divergence

    def __init__(self, run: Run):
        self.members: List[Run] = [run]
        self.run = run
        self.n_critic = run.n_critic

    def _noise(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """D's view of a batch: instance noise, then PacGAN's packing (both no-ops when off)."""
        x = instance_noise(x, step, self.run.spec, [self.run.gen_aux], batched=False)
        return pac(x, self.run.pacgan, batched=False)

    def _d(self, step: int):
        return with_nan(self.run.D_fwd, nan_mask([self.run.spec], step), batched=False)

    def d_update(self, step: int, keep_fake: bool = False, want_grad_norm: bool = False):
        """One discriminator update on the batch of ``step``. With ``keep_fake`` the generator
        forward keeps its graph so the following G update can reuse it."""
        run = self.run
        real, y = run.feed.batch(step)
        if run.memory_format is not None:
            real = real.contiguous(memory_format=run.memory_format)
        zin, target = run.latents(run.samples_per_step, run.gen_z)
        with run.autocast():
            if keep_fake:
                fake = run.G_fwd(zin)
            else:
                with torch.no_grad():
                    fake = run.G_fwd(zin)
        ctx = StepCtx(y_real=y, cond_target=target, real_target=1.0 - run.spec.stabilise.label_smoothing,
                      gen=run.gen_aux, state=run.state, attributes=run.attributes)
        real_in, fake_in = self._noise(real, step), self._noise(fake.detach(), step)
        run.opt_d.zero_grad(set_to_none=True)
        with run.autocast():
            d_loss, dlogs = run.objective.d_loss(self._d(step), real_in, fake_in, ctx)
        d_loss.sum().backward()
        gn = grad_norm(run.D) if want_grad_norm else None
        run.opt_d.step()
        clip_weights(run.D.parameters(), run.objective.weight_clip)
        run.objective.update_state(run.state, dlogs)
        return d_loss, dlogs, fake, ctx, gn

    def g_update(self, step: int, fake: torch.Tensor, ctx: StepCtx, want_grad_norm: bool = False):
        """One generator update through D (D's parameters are frozen meanwhile)."""
        run = self.run
        run.D.requires_grad_(False)
        try:
            run.opt_g.zero_grad(set_to_none=True)
            with run.autocast():
                g_loss, glogs = run.objective.g_loss(self._d(step), self._noise(fake, step), ctx)
            if run.sigma_reg:
                g_loss, glogs = with_sigma_reg(g_loss, glogs, run.G.sigma, run.sigma_reg)
            g_loss.sum().backward()
        finally:
            run.D.requires_grad_(True)
        gn = grad_norm(run.G) if want_grad_norm else None
        run.opt_g.step()
        return g_loss, glogs, gn

    def step(self, step: int, want_d_norm: bool = False, want_g_norm: bool = False) -> Tuple[Logs, Optional[Logs]]:
        """D-side logs, and G-side logs when G was updated (scalars)."""
        g_now = (step + 1) % self.n_critic == 0
        d_loss, dlogs, fake, ctx, d_gn = self.d_update(step, keep_fake=g_now, want_grad_norm=want_d_norm)
        d_side = {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in dlogs.items()}}
        if d_gn is not None:
            d_side["grad_norm_d"] = d_gn
        if not g_now:
            return d_side, None
        g_loss, glogs, g_gn = self.g_update(step, fake, ctx, want_grad_norm=want_g_norm)
        g_side = {} if g_gn is None else {"grad_norm_g": g_gn.detach()}
        g_side.update({"g_loss": g_loss.detach(), **{k: v.detach() for k, v in glogs.items()}})
        return d_side, g_side
