"""Seed packing: K runs that differ only in seed, trained as one batched model in one process.

The K generators and discriminators are built exactly as their solo runs build them (same
seed, same initial weights), then stacked (``torch.func.stack_module_state``) and called
through ``functional_call`` under ``vmap``. Every run keeps its own random streams (batch
order, latents, penalties and noise are drawn from its own generators in the order its solo
run draws them), its own BatchNorm statistics (stacked buffers) and its own optimiser state
(Adam and RMSProp are elementwise, so one optimiser over stacked tensors is K optimisers).
Losses reduce over the sample axis only (ACGAN's and infoGAN's auxiliary terms included, with
each run's own labels and codes stacked on the run axis), so each run's gradient is its solo
gradient.

A run whose loss turns non-finite is marked diverged at that step; its slice is frozen (its
updates are undone after each step) and its siblings continue, unaffected — no operation mixes
slices. At checkpoints each run's slice is copied back into its own modules and optimiser, and
the solo code writes its samples, scores, checkpoint and record: a packed run's outputs have the
same format and the same run id as the solo run's. An objective may still declare
``Caps(packable=False)``; its runs then train alone."""
from __future__ import annotations
from .errors import PackError  # noqa: F401

import copy
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch.func import functional_call, stack_module_state, vmap

from .config import RunSpec
from .losses.base import DOut, StepCtx
from .train import (Diverged, Run, _checkpoint, _evaluate, _event, _mark_bad, g_norm_wanted, make_record,
                    read_checkpoint)
from .results import RECORD_NAME, atomic_write_json


def check_packable(specs: Sequence[RunSpec]) -> None:
    from .losses import LOSSES

    if not specs:
        raise PackError("nothing to pack")
    ident = [{k: v for k, v in s.identity().items() if k != "seed"} for s in specs]
    if any(i != ident[0] for i in ident[1:]):
        raise PackError("packed runs must differ only in seed")
    if len({s.seed for s in specs}) != len(specs):
        raise PackError("packed runs need distinct seeds")
    caps = LOSSES.get(specs[0].loss).caps
    if not caps.packable:
        raise PackError(f"objective {specs[0].loss!r} does not pack (see `ganbench list losses`)")
    f = specs[0].fast
    if f.bf16 or f.channels_last or f.compile:
        raise PackError("the fast paths (fast.bf16, fast.channels_last, fast.compile) are not combined with "
                        "packing yet: pack without them, or run unpacked")
    for key in ("raise_at_step", "crash_at_step"):
        if any(getattr(s.debug, key) is not None for s in specs):
            raise PackError(f"debug.{key} is a per-run failure and cannot be packed")


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


class PackedRuns:
    def __init__(self, specs: Sequence[RunSpec]):
        check_packable(specs)
        self.specs = list(specs)
        self.runs = [Run(s) for s in specs]
        self.K = len(specs)
        r0 = self.runs[0]
        self.spec0, self.objective, self.device = specs[0], r0.objective, r0.device
        self.n_critic = r0.n_critic
        self.has_aux = getattr(r0.D, "aux", None) is not None
        self.g_names = [n for n, _ in r0.G.named_parameters()]
        self.d_names = [n for n, _ in r0.D.named_parameters()]
        self._stack()
        self.alive = [True] * self.K
        self.diverged_at: List[Optional[int]] = [None] * self.K
        self.first_bad = torch.full((self.K,), -1, dtype=torch.long, device=self.device)
        self.step = 0

    def sync_divergence(self) -> None:
        """At logging points: mark runs whose loss turned non-finite (one host sync)."""
        for k, s in enumerate(self.first_bad.tolist()):
            if s >= 0 and self.alive[k]:
                self.alive[k], self.diverged_at[k] = False, s

    def resume(self, outs: Sequence[Optional[Path]]) -> int:
        """Load every member's latest checkpoint and rebuild the packed state from them, if all K
        exist, belong to these runs and stand at the same step (a pack whose member diverged
        stops checkpointing that member, and starts over). Returns the step resumed at (0: none).
        An unreadable checkpoint means a fresh start, never a failed unit."""
        cks = []
        try:
            for r, out in zip(self.runs, outs):
                ck = read_checkpoint(out, r.spec.run_id)
                if ck is None:
                    return 0
                cks.append(ck)
            if len({ck["step"] for ck in cks}) != 1:
                print(f"packed unit of {self.K}: members' checkpoints stand at different steps "
                      f"({sorted({ck['step'] for ck in cks})}); starting from scratch", file=sys.stderr, flush=True)
                return 0
            for r, ck in zip(self.runs, cks):
                r.load_state_dict(ck)
            self._stack()
            self.opt_g.load_state_dict(_optim_stack([r.opt_g.state_dict() for r in self.runs]))
            self.opt_d.load_state_dict(_optim_stack([r.opt_d.state_dict() for r in self.runs]))
        except Exception as e:
            print(f"packed unit of {self.K}: cannot resume ({type(e).__name__}: {e}); starting from scratch",
                  file=sys.stderr, flush=True)
            feeds = [r.feed for r in self.runs]
            self.__init__(self.specs)  # every member as freshly built
            for r, feed in zip(self.runs, feeds):
                r.feed = feed
            return 0
        self.step = cks[0]["step"]
        return self.step

    # ---- stacking ---------------------------------------------------------------------
    def _stack(self) -> None:
        from .train import make_optimizer

        self.gp, self.gb = stack_module_state([r.G for r in self.runs])
        self.dp, self.db = stack_module_state([r.D for r in self.runs])
        self.g_base = copy.deepcopy(self.runs[0].G).to("meta")
        self.d_base = copy.deepcopy(self.runs[0].D).to("meta")
        o = self.spec0.optim
        self.opt_g = make_optimizer(o.name, [self.gp[n] for n in self.g_names], o.g_lr, o.betas, o.eps)
        self.opt_d = make_optimizer(o.name, [self.dp[n] for n in self.d_names], o.d_lr, o.betas, o.eps)
        st = [r.state for r in self.runs]
        self.state = {k: torch.stack([s[k].expand(()) if s[k].dim() == 0 else s[k] for s in st]) for k in st[0]}

    def G(self, z: torch.Tensor) -> torch.Tensor:
        return vmap(lambda p, b, x: functional_call(self.g_base, (p, b), (x,)))(self.gp, self.gb, z)

    def D(self, x: torch.Tensor) -> DOut:
        if self.has_aux:  # ACGAN's class logits / infoGAN's Q: (K, B, aux_dim)
            def f(p, b, v):
                out = functional_call(self.d_base, (p, b), (v,))
                return out.score, out.aux
            score, aux = vmap(f)(self.dp, self.db, x)
            return DOut(score, aux)
        score = vmap(lambda p, b, v: functional_call(self.d_base, (p, b), (v,)).score)(self.dp, self.db, x)
        return DOut(score)

    def _d_fn(self, step: int):
        dbg = self.spec0.debug
        if dbg.nan_at_step is None or step < dbg.nan_at_step:
            return self.D
        # fault injection for tests: NaN in the runs whose seed is listed (every run if none is)
        bad = torch.tensor([dbg.nan_seeds is None or s.seed in dbg.nan_seeds for s in self.specs], device=self.device)

        def fn(x):
            out = self.D(x)
            mask = bad.view(-1, *([1] * (out.score.dim() - 1)))
            # additive, so the backward pass of the healthy runs never multiplies by NaN
            return DOut(out.score + torch.where(mask, float("nan"), 0.0), out.aux)
        return fn

    # ---- one step for all runs --------------------------------------------------------
    def _batches(self, step: int):
        """Each run's real batch, labels, latents and conditioning targets, stacked on a run axis."""
        reals, ys, zs, targets = [], [], [], []
        for r in self.runs:
            x, y = r.feed.batch(step)
            reals.append(x)
            ys.append(y)
            z, t = r.latents(self.spec0.batch_size, r.gen_z)
            zs.append(z)
            targets.append(t)
        return torch.stack(reals), _stack_runs(ys), torch.stack(zs), _stack_runs(targets)

    def _noise(self, x: torch.Tensor, step: int) -> torch.Tensor:
        s0 = self.spec0.stabilise.instance_noise
        if s0 <= 0:
            return x
        sigma = s0 * max(0.0, 1.0 - step / self.spec0.steps)
        return x + sigma * torch.stack([torch.randn(x.shape[1:], generator=r.gen_aux, device=x.device)
                                        for r in self.runs])

    def _ctx(self, y_real=None, cond_target=None) -> StepCtx:
        return StepCtx(y_real=y_real, cond_target=cond_target, real_target=1.0 - self.spec0.stabilise.label_smoothing,
                       state=self.state, batch_dims=2, gens=[r.gen_aux for r in self.runs])

    def _freeze_dead(self, tensors: Dict[str, torch.Tensor], before: Dict[str, torch.Tensor]) -> None:
        dead = [k for k, a in enumerate(self.alive) if not a]
        if dead:
            with torch.no_grad():
                for n, t in tensors.items():
                    t[dead] = before[n]

    @staticmethod
    def _per_run_grad_norm(params: Dict[str, torch.Tensor]) -> torch.Tensor:
        sq = [p.grad.detach().flatten(1).pow(2).sum(1) for p in params.values() if p.grad is not None]
        return torch.stack(sq).sum(0).sqrt()

    def train_step(self, step: int, want_d_norm: bool = False, want_g_norm: bool = False) -> Dict[str, torch.Tensor]:
        obj = self.objective
        g_now = (step + 1) % self.n_critic == 0
        real, y, z, target = self._batches(step)
        if g_now:
            fake = self.G(z)
        else:
            with torch.no_grad():
                fake = self.G(z)
        ctx = self._ctx(y, target)
        dead = [k for k, a in enumerate(self.alive) if not a]
        saved_d = {n: t[dead].clone() for n, t in {**self.dp, **self.db}.items()} if dead else None
        self.opt_d.zero_grad(set_to_none=True)
        d_loss, dlogs = obj.d_loss(self._d_fn(step), self._noise(real, step), self._noise(fake.detach(), step), ctx)
        d_loss.sum().backward()
        d_gn = self._per_run_grad_norm(self.dp) if want_d_norm else None
        self.opt_d.step()
        clip = obj.weight_clip
        if clip is not None:
            with torch.no_grad():
                for t in self.dp.values():
                    t.clamp_(-clip, clip)
        saved_state = {k: v[dead].clone() for k, v in self.state.items()} if dead else None
        obj.update_state(self.state, dlogs)
        if saved_d is not None:
            self._freeze_dead({**self.dp, **self.db}, saved_d)
            self._freeze_dead(self.state, saved_state)
        logs = {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in dlogs.items()}}
        if d_gn is not None:
            logs["grad_norm_d"] = d_gn
        if g_now:
            saved_g = {n: t[dead].clone() for n, t in {**self.gp, **self.gb}.items()} if dead else None
            for t in self.dp.values():
                t.requires_grad_(False)
            try:
                self.opt_g.zero_grad(set_to_none=True)
                g_loss, glogs = obj.g_loss(self._d_fn(step), self._noise(fake, step), ctx)
                g_loss.sum().backward()
            finally:
                for t in self.dp.values():
                    t.requires_grad_(True)
            if want_g_norm:
                logs["grad_norm_g"] = self._per_run_grad_norm(self.gp)
            self.opt_g.step()
            if saved_g is not None:
                self._freeze_dead({**self.gp, **self.gb}, saved_g)
            logs.update({"g_loss": g_loss.detach(), **{k: v.detach() for k, v in glogs.items()}})
            for r in self.runs:
                r.g_steps += 1
        self.first_bad = _mark_bad(self.first_bad, logs["d_loss"], step)
        if "g_loss" in logs:
            self.first_bad = _mark_bad(self.first_bad, logs["g_loss"], step)
        self.step = step + 1
        return logs

    # ---- unstacking: back into each run's own modules ------------------------------------
    def unstack_into_runs(self) -> None:
        gst, dst = self.opt_g.state_dict(), self.opt_d.state_dict()
        with torch.no_grad():
            for k, r in enumerate(self.runs):
                for mod, params, bufs in ((r.G, self.gp, self.gb), (r.D, self.dp, self.db)):
                    for n, p in mod.named_parameters():
                        p.copy_(params[n][k])
                    for n, b in mod.named_buffers():
                        b.copy_(bufs[n][k])
                r.opt_g.load_state_dict(_optim_slice(gst, self.g_names, k))
                r.opt_d.load_state_dict(_optim_slice(dst, self.d_names, k))
                r.state = {n: v[k].clone() for n, v in self.state.items()}
                r.step = self.step


def train_packed(specs: Sequence[RunSpec], out_dirs: Sequence[Optional[Path]], suite: Optional[str] = None,
                 metas: Optional[Sequence[Dict[str, Any]]] = None,
                 on_checkpoint: Optional[Callable[[], None]] = None) -> List[Dict[str, Any]]:
    """Train K packed runs; writes and returns one record per run (solo format and run id).
    ``on_checkpoint()`` is called once after each intermediate checkpoint of the whole pack."""
    t_wall = time.perf_counter()
    pk = PackedRuns(specs)
    K, spec0 = pk.K, pk.spec0
    outs = [Path(o) if o is not None else None for o in out_dirs]
    if spec0.threads:
        torch.set_num_threads(int(spec0.threads))
    for r in pk.runs:
        r.attach_data()
    pk.resume(outs)
    for r, out in zip(pk.runs, outs):
        _event(out, "start", pk.step)
        if spec0.eval.every and pk.step == 0:
            _evaluate(r, final=False, init=True)
    t0 = time.perf_counter()
    while pk.step < spec0.steps:
        step = pk.step
        log_now = (step + 1) % spec0.log_every == 0 or step + 1 == spec0.steps
        # as in a solo run: D's norm at logging steps, G's at the last G update before each
        want_g = (step + 1) % pk.n_critic == 0 and g_norm_wanted(step, pk.n_critic, spec0.log_every, spec0.steps)
        logs = pk.train_step(step, want_d_norm=log_now, want_g_norm=want_g)
        ev_now = spec0.eval.every and pk.step % spec0.eval.every == 0 and pk.step < spec0.steps
        ck_now = pk.step % spec0.checkpoint_every == 0 or pk.step == spec0.steps
        if log_now or ev_now or ck_now:
            pk.sync_divergence()
        for k, r in enumerate(pk.runs):  # G-side values of each G update, kept for the next log (no sync)
            for name, v in logs.items():
                if name.startswith("g_") or name == "grad_norm_g":
                    r.last_g[name] = v[k]
        if log_now:
            el = time.perf_counter() - t0
            for k, r in enumerate(pk.runs):
                if pk.alive[k]:
                    r.train_s += el / K
                    d_side = {n: v for n, v in logs.items() if not (n.startswith("g_") or n == "grad_norm_g")}
                    for name, v in {**d_side, **r.last_g}.items():
                        r.log(name, pk.step, float(v[k] if v.dim() else v))
                    r.throughput.append([pk.step, pk.step / max(r.train_s, 1e-9)])
            t0 = time.perf_counter()
        if ev_now or ck_now:
            el = time.perf_counter() - t0
            pk.unstack_into_runs()
            final = pk.step == spec0.steps
            for k, (r, out) in enumerate(zip(pk.runs, outs)):
                if not pk.alive[k]:
                    continue
                r.train_s += el / K
                if ev_now or final:
                    try:
                        _evaluate(r, final=final)
                    except Diverged:
                        pk.alive[k], pk.diverged_at[k] = False, pk.step
                        continue
                if ck_now and out is not None:
                    _checkpoint(r, out, suite, None)
            if ck_now and not final and on_checkpoint is not None:
                on_checkpoint()
            t0 = time.perf_counter()
    records = []
    wall = time.perf_counter() - t_wall
    for k, (r, out) in enumerate(zip(pk.runs, outs)):
        if pk.alive[k]:
            status, reason, dstep = "done", None, None
        else:
            status, reason, dstep = "diverged", f"non-finite loss at step {pk.diverged_at[k]}", pk.diverged_at[k]
        rec = make_record(r.spec, r, status, reason, dstep, wall / K, suite, out)
        rec["search"] = dict((metas or [{}] * K)[k] or {})
        rec["cost"]["packed"] = K
        if out is not None:
            atomic_write_json(out / RECORD_NAME, rec)
            _event(out, "end", rec["counts"]["d_steps"], status)
        records.append(rec)
    return records
