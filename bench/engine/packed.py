"""The packed step kind: K runs that differ only in seed, trained as one batched model.

The K generators and discriminators are built exactly as their solo runs build them (same
seed, same initial weights), then stacked (``torch.func.stack_module_state``) and called
through ``functional_call`` under ``vmap``. Every run keeps its own random streams (batch
order, latents, penalties and noise are drawn from its own generators in the order its solo
run draws them), its own BatchNorm statistics (stacked buffers) and its own optimiser state
(Adam and RMSProp are elementwise, so one optimiser over stacked tensors is K optimisers).
Losses reduce over the sample axis only (ACGAN's and infoGAN's auxiliary terms included, with
each run's own labels and codes stacked on the run axis), so each run's gradient is its solo
gradient. A run the loop freezes (diverged or failed) has its updates undone after each step;
no operation mixes slices, so its siblings are unaffected. ``sync_members`` copies each run's
slice back into its own modules and optimiser, where the loop evaluates and checkpoints it in
the solo format."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch.func import functional_call, stack_module_state, vmap

from ..config import RunSpec
from ..losses.base import DOut, StepCtx
from ..models.heads import AutoencoderD
from .member import Run, make_optimizer
from .policy import (check_packable, clip_weights, instance_noise, nan_mask, pac, per_run_grad_norm, with_nan,
                     with_sigma_reg)

Logs = Dict[str, torch.Tensor]


def _optim_slice(opt_state: Dict[str, Any], names: List[str], k: int) -> Dict[str, Any]:
    """The optimiser state of run k, keyed like its solo optimiser (param index order)."""
    st = {}
    for i, _ in enumerate(names):
        s = opt_state["state"].get(i)
        if s is None:
            continue
        st[i] = {key: (v[k].clone() if torch.is_tensor(v) and v.dim() > 0 else (v.clone() if torch.is_tensor(v) else v))
                 for key, v in s.items()}
    return {"state": st, "param_groups": copy.deepcopy(opt_state["param_groups"])}


def _optim_stack(states: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Inverse of _optim_slice: the packed optimiser state from its runs' solo states."""
    st = {}
    for i, s0 in states[0]["state"].items():
        st[i] = {key: (torch.stack([s["state"][i][key] for s in states]) if torch.is_tensor(v) and v.dim() > 0
                       else (v.clone() if torch.is_tensor(v) else v))
                 for key, v in s0.items()}
    return {"state": st, "param_groups": copy.deepcopy(states[0]["param_groups"])}


def _stack_runs(items: List[Any]) -> Any:
    """Stack per-run tensors (or tuples of tensors, e.g. infoGAN's codes) on a new run axis."""
    if items[0] is None:
        return None
    if isinstance(items[0], (tuple, list)):
        return tuple(torch.stack(parts) for parts in zip(*items))
    return torch.stack(items)


class PackedStep:
    """Step kind for K packed runs (``members``), one vmapped update for all of them."""

    batched = True
    loss_keys = ("d_loss", "g_loss")  # what the loop watches for divergence

    def __init__(self, specs: Sequence[RunSpec], members: Optional[Sequence[Run]] = None):
        check_packable(specs)
        self.specs = list(specs)
        self.members: List[Run] = list(members) if members is not None else [Run(s) for s in specs]
        self.K = len(self.specs)
        r0 = self.members[0]
        self.spec0, self.objective, self.device = self.specs[0], r0.objective, r0.device
        self.n_critic = r0.n_critic
        # D returns a second output: an auxiliary head's (ACGAN, infoGAN) or an autoencoder's code (EBGAN)
        self.has_aux = getattr(r0.D, "aux", None) is not None or isinstance(r0.D, AutoencoderD)
        self.g_names = [n for n, _ in r0.G.named_parameters()]
        self.d_names = [n for n, _ in r0.D.named_parameters()]
        self.frozen: List[bool] = [False] * self.K
        self._stack()

    # ---- stacking ---------------------------------------------------------------------
    def _stack(self) -> None:
        runs = self.members
        self.gp, self.gb = stack_module_state([r.G for r in runs])
        self.dp, self.db = stack_module_state([r.D for r in runs])
        self.g_base = copy.deepcopy(runs[0].G).to("meta")
        self.d_base = copy.deepcopy(runs[0].D).to("meta")
        o = self.spec0.optim
        self.opt_g = make_optimizer(o.name, [self.gp[n] for n in self.g_names], o.g_lr, o.betas, o.eps)
        self.opt_d = make_optimizer(o.name, [self.dp[n] for n in self.d_names], o.d_lr, o.betas, o.eps)
        st = [r.state for r in runs]
        self.state = {k: torch.stack([s[k].expand(()) if s[k].dim() == 0 else s[k] for s in st]) for k in st[0]}

    def resume(self, checkpoints: Sequence[Dict[str, Any]]) -> int:
        """Rebuild the packed state from every member's solo checkpoint (all at one step)."""
        for r, ck in zip(self.members, checkpoints):
            r.load_state_dict(ck)
        self._stack()
        self.opt_g.load_state_dict(_optim_stack([r.opt_g.state_dict() for r in self.members]))
        self.opt_d.load_state_dict(_optim_stack([r.opt_d.state_dict() for r in self.members]))
        return self.members[0].step

    def G(self, z: torch.Tensor) -> torch.Tensor:
        return vmap(lambda p, b, x: functional_call(self.g_base, (p, b), (x,)))(self.gp, self.gb, z)

    def D(self, x: torch.Tensor) -> DOut:
        if self.has_aux:  # (K, B, aux_dim)
            def f(p, b, v):
                out = functional_call(self.d_base, (p, b), (v,))
                return out.score, out.aux
            score, aux = vmap(f)(self.dp, self.db, x)
            return DOut(score, aux)
        score = vmap(lambda p, b, v: functional_call(self.d_base, (p, b), (v,)).score)(self.dp, self.db, x)
        return DOut(score)

    # ---- one step for all runs --------------------------------------------------------
    def _batches(self, step: int):
        """Each run's real batch, labels, latents and conditioning targets, stacked on a run axis."""
        reals, ys, zs, targets = [], [], [], []
        for r in self.members:
            x, y = r.feed.batch(step)
            reals.append(x)
            ys.append(y)
            z, t = r.latents(r.samples_per_step, r.gen_z)
            zs.append(z)
            targets.append(t)
        return torch.stack(reals), _stack_runs(ys), torch.stack(zs), _stack_runs(targets)

    def _noise(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """D's view of a batch: instance noise, then PacGAN's packing (both no-ops when off)."""
        x = instance_noise(x, step, self.spec0, [r.gen_aux for r in self.members], batched=True)
        return pac(x, self.members[0].pacgan, batched=True)

    def _restore_frozen(self, tensors: Dict[str, torch.Tensor], before: Optional[Dict[str, torch.Tensor]]) -> None:
        if before is None:
            return
        dead = [k for k, f in enumerate(self.frozen) if f]
        with torch.no_grad():
            for n, t in tensors.items():
                t[dead] = before[n]

    def _save_frozen(self, tensors: Dict[str, torch.Tensor]) -> Optional[Dict[str, torch.Tensor]]:
        dead = [k for k, f in enumerate(self.frozen) if f]
        return {n: t[dead].clone() for n, t in tensors.items()} if dead else None

    def freeze(self, k: int) -> None:
        """Stop updating run k (diverged or failed); its siblings go on."""
        self.frozen[k] = True

    def step(self, step: int, want_d_norm: bool = False, want_g_norm: bool = False) -> Tuple[Logs, Optional[Logs]]:
        """D-side logs, and G-side logs when G was updated ((K,) tensors)."""
        obj = self.objective
        g_now = (step + 1) % self.n_critic == 0
        real, y, z, target = self._batches(step)
        if g_now:
            fake = self.G(z)
        else:
            with torch.no_grad():
                fake = self.G(z)
        ctx = StepCtx(y_real=y, cond_target=target, real_target=1.0 - self.spec0.stabilise.label_smoothing,
                      state=self.state, batch_dims=2, gens=[r.gen_aux for r in self.members],
                      attributes=self.members[0].attributes)
        D = with_nan(self.D, nan_mask(self.specs, step), batched=True)
        saved_d = self._save_frozen({**self.dp, **self.db})
        self.opt_d.zero_grad(set_to_none=True)
        d_loss, dlogs = obj.d_loss(D, self._noise(real, step), self._noise(fake.detach(), step), ctx)
        d_loss.sum().backward()
        d_gn = per_run_grad_norm(self.dp) if want_d_norm else None
        self.opt_d.step()
        clip_weights(self.dp.values(), obj.weight_clip)
        saved_state = self._save_frozen(self.state)
        obj.update_state(self.state, dlogs)
        self._restore_frozen({**self.dp, **self.db}, saved_d)
        self._restore_frozen(self.state, saved_state)
        d_side = {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in dlogs.items()}}
        if d_gn is not None:
            d_side["grad_norm_d"] = d_gn
        if not g_now:
            return d_side, None
        saved_g = self._save_frozen({**self.gp, **self.gb})
        for t in self.dp.values():
            t.requires_grad_(False)
        try:
            self.opt_g.zero_grad(set_to_none=True)
            g_loss, glogs = obj.g_loss(D, self._noise(fake, step), ctx)
            if self.members[0].sigma_reg:
                g_loss, glogs = with_sigma_reg(g_loss, glogs, self.gp["sigma"], self.members[0].sigma_reg)
            g_loss.sum().backward()
        finally:
            for t in self.dp.values():
                t.requires_grad_(True)
        g_side = {"grad_norm_g": per_run_grad_norm(self.gp)} if want_g_norm else {}
        self.opt_g.step()
        self._restore_frozen({**self.gp, **self.gb}, saved_g)
        g_side.update({"g_loss": g_loss.detach(), **{k: v.detach() for k, v in glogs.items()}})
        return d_side, g_side

    # ---- unstacking: back into each run's own modules ------------------------------------
    def sync_members(self) -> None:
        gst, dst = self.opt_g.state_dict(), self.opt_d.state_dict()
        with torch.no_grad():
            for k, r in enumerate(self.members):
                if self.frozen[k]:
                    continue
                for mod, params, bufs in ((r.G, self.gp, self.gb), (r.D, self.dp, self.db)):
                    for n, p in mod.named_parameters():
                        p.copy_(params[n][k])
                    for n, b in mod.named_buffers():
                        b.copy_(bufs[n][k])
                r.opt_g.load_state_dict(_optim_slice(gst, self.g_names, k))
                r.opt_d.load_state_dict(_optim_slice(dst, self.d_names, k))
                r.state = {n: v[k].clone() for n, v in self.state.items()}
