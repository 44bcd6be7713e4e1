"""train(spec) -> record: one GAN training run, a plain function.

``spec.steps`` counts discriminator updates, as the published protocol does: with
n_critic = k the generator is updated after every k-th D update. The generator forward of
the D step that precedes a G update is reused for that G update (one G forward per G step,
as in PyTorch's DCGAN example). Checkpoints hold everything needed to continue exactly
(networks, optimisers, random streams, objective state, curves, best scores); a resumed run
ends bit-identical to an uninterrupted one on CPU. A non-finite loss ends the run with
status ``diverged`` and the step; any other exception ends it with status ``failed`` and the
reason. Neither escapes ``train``."""
from __future__ import annotations
from .errors import Diverged, InfrastructureError as CheckpointHookError  # noqa: F401

import math
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import torch

from . import __version__
from .config import RunSpec
from .data import DATASETS, BatchFeed, load
from .losses import LOSSES
from .losses.base import DOut, StepCtx
from .models import build_models, default_arch
from .results import LOWER_IS_BETTER, RECORD_NAME, RECORD_SCHEMA, atomic_torch_save, atomic_write_json

CKPT_NAME = "latest.pt"


def environment() -> Dict[str, Any]:
    import torchvision

    try:
        import torch_fidelity

        tf_version = torch_fidelity.__version__
    except Exception:  # pragma: no cover - optional at import time
        tf_version = None
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5).stdout.strip() or None
    except Exception:
        sha = None
    return {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__,
            "torch_fidelity": tf_version, "ganbench": __version__, "git_sha": sha,
            "platform": platform.platform()}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def make_optimizer(name: str, params, lr: float, betas, eps: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, eps=eps)
    return torch.optim.SGD(params, lr=lr)


def grad_norm(module: torch.nn.Module) -> torch.Tensor:
    norms = [p.grad.detach().norm(2) for p in module.parameters() if p.grad is not None]
    return torch.stack(norms).norm(2) if norms else torch.zeros(())


class Run:
    """Everything a training run holds; ``train`` drives it."""

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.device = torch.device(spec.device)
        self.info = DATASETS.get(spec.dataset)
        self.objective = LOSSES.get(spec.loss)(**spec.loss_params)
        self.arch = spec.model if spec.model != "auto" else default_arch(self.info.kind)
        self.n_critic = spec.n_critic or self.objective.caps.n_critic
        torch.manual_seed(spec.seed)
        self.G, self.D = build_models(self.arch, self.info.shape, spec.z_dim, self.objective,
                                      self.info.num_classes, spec.model_params)
        self.G.to(self.device)
        self.D.to(self.device)
        fast = spec.fast
        self.memory_format = torch.channels_last if fast.channels_last and self.info.kind == "image" else None
        if self.memory_format is not None:
            self.G.to(memory_format=self.memory_format)
            self.D.to(memory_format=self.memory_format)
        # the callables used in the training loop (compiled where asked); self.G / self.D stay
        # the plain modules for state dicts, evaluation and sampling
        self.G_fwd, self.D_fwd = self.G, self.D
        if fast.compile:
            mode = "reduce-overhead" if self.device.type == "cuda" else None
            self.G_fwd = torch.compile(self.G, mode=mode)
            self.D_fwd = torch.compile(self.D, mode=mode)
        o = spec.optim
        self.opt_g = make_optimizer(o.name, self.G.parameters(), o.g_lr, o.betas, o.eps)
        self.opt_d = make_optimizer(o.name, self.D.parameters(), o.d_lr, o.betas, o.eps)
        self.gen_z = torch.Generator(self.device).manual_seed(spec.seed * 7919 + 1)
        self.gen_aux = torch.Generator(self.device).manual_seed(spec.seed * 7919 + 2)
        self.state = self.objective.init_state(self.device)
        self.step = 0  # discriminator steps done
        self.g_steps = 0
        self.curves: Dict[str, list] = {}
        self.best: Dict[str, float] = {}
        self.best_step: Dict[str, int] = {}
        self.final: Dict[str, float] = {}
        self.init: Dict[str, float] = {}  # scores of the generator at initialisation (when eval.every > 0)
        self.provenance: Dict[str, Any] = {}
        self.collapsed: Optional[bool] = None
        self.train_s = 0.0
        self.eval_s = 0.0
        self.feed = None
        self.last_g: Dict[str, torch.Tensor] = {}  # G-side values of the latest G update, logged with D's
        self.throughput: list = []  # [[step, steps/s]]: timing, so apart from the deterministic curves

    # ---- latents -------------------------------------------------------------------
    def latents(self, n: int, gen: torch.Generator):
        if self.spec.z_dist == "uniform":
            z = torch.rand(n, self.spec.z_dim, generator=gen, device=self.device).mul_(2).sub_(1)
        else:
            z = torch.randn(n, self.spec.z_dim, generator=gen, device=self.device)
        cond, target = self.objective.sample_condition(n, self.info.num_classes, gen, self.device)
        return (z if cond is None else torch.cat([z, cond], 1)), target

    def fixed_latents(self, n: int, seed: int):
        return self.latents(n, torch.Generator(self.device).manual_seed(seed))

    @torch.no_grad()
    def generate(self, zin: torch.Tensor, batch: int = 500) -> torch.Tensor:
        was = self.G.training
        self.G.eval()
        try:
            return torch.cat([self.G(zin[i:i + batch]) for i in range(0, len(zin), batch)]).cpu()
        finally:
            self.G.train(was)

    def sample_fn(self, seed: int) -> Callable[[int], torch.Tensor]:
        """n -> n samples (model space, CPU) from fixed latents drawn with ``seed``."""
        def fn(n: int) -> torch.Tensor:
            return self.generate(self.fixed_latents(n, seed)[0])
        return fn

    # ---- one D update and one G update -----------------------------------------------
    def attach_data(self) -> None:
        if getattr(self, "feed", None) is None:
            data = load(self.spec.dataset, "train", self.spec.data_root).to(self.device)
            self.feed = BatchFeed(data.x, data.y, self.spec.batch_size, self.spec.seed, self.info.kind)

    def _noise(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """Instance noise: Gaussian, std decayed linearly from its initial value to 0."""
        s0 = self.spec.stabilise.instance_noise
        if s0 <= 0:
            return x
        sigma = s0 * max(0.0, 1.0 - step / self.spec.steps)
        return x + sigma * torch.randn(x.shape, generator=self.gen_aux, device=x.device)

    def d_fn(self, step: int):
        dbg = self.spec.debug
        hit = dbg.nan_at_step is not None and step >= dbg.nan_at_step and (
            dbg.nan_seeds is None or self.spec.seed in dbg.nan_seeds)
        return _nan_d(self.D_fwd) if hit else self.D_fwd

    def autocast(self):
        """bf16 autocast around forward passes when asked (a no-op context otherwise)."""
        import contextlib

        if not self.spec.fast.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def d_update(self, step: int, keep_fake: bool = False, want_grad_norm: bool = False):
        """One discriminator update on the batch of ``step``. With ``keep_fake`` the generator
        forward keeps its graph so the following G update can reuse it."""
        real, y = self.feed.batch(step)
        if self.memory_format is not None:
            real = real.contiguous(memory_format=self.memory_format)
        zin, target = self.latents(self.spec.batch_size, self.gen_z)
        with self.autocast():
            if keep_fake:
                fake = self.G_fwd(zin)
            else:
                with torch.no_grad():
                    fake = self.G_fwd(zin)
        ctx = StepCtx(y_real=y, cond_target=target, real_target=1.0 - self.spec.stabilise.label_smoothing,
                      gen=self.gen_aux, state=self.state)
        real_in, fake_in = self._noise(real, step), self._noise(fake.detach(), step)
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            d_loss, dlogs = self.objective.d_loss(self.d_fn(step), real_in, fake_in, ctx)
        d_loss.sum().backward()
        gn = grad_norm(self.D) if want_grad_norm else None
        self.opt_d.step()
        clip = self.objective.weight_clip
        if clip is not None:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-clip, clip)
        self.objective.update_state(self.state, dlogs)
        return d_loss, dlogs, fake, ctx, gn

    def g_update(self, step: int, fake: torch.Tensor, ctx: StepCtx, want_grad_norm: bool = False):
        """One generator update through D (D's parameters are frozen meanwhile)."""
        self.D.requires_grad_(False)
        try:
            self.opt_g.zero_grad(set_to_none=True)
            with self.autocast():
                g_loss, glogs = self.objective.g_loss(self.d_fn(step), self._noise(fake, step), ctx)
            g_loss.sum().backward()
        finally:
            self.D.requires_grad_(True)
        gn = grad_norm(self.G) if want_grad_norm else None
        self.opt_g.step()
        self.g_steps += 1
        return g_loss, glogs, gn

    # ---- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {"step": self.step, "g_steps": self.g_steps, "G": self.G.state_dict(), "D": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "gen_z": self.gen_z.get_state(), "gen_aux": self.gen_aux.get_state(),
                "objective_state": {k: v.detach().clone() for k, v in self.state.items()},
                "curves": self.curves, "best": self.best, "best_step": self.best_step, "final": self.final, "init": self.init,
                "provenance": self.provenance, "collapsed": self.collapsed,
                "train_s": self.train_s, "eval_s": self.eval_s, "throughput": self.throughput,
                "last_g": self.last_g, "run_id": self.spec.run_id}

    def load_state_dict(self, ck: Dict[str, Any]) -> None:
        self.G.load_state_dict(ck["G"])
        self.D.load_state_dict(ck["D"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        # RNG states are CPU byte tensors whatever the device (map_location may have moved them)
        self.gen_z.set_state(ck["gen_z"].cpu())
        self.gen_aux.set_state(ck["gen_aux"].cpu())
        self.state = {k: v.to(self.device) for k, v in ck["objective_state"].items()}
        for k in ("step", "g_steps", "curves", "best", "best_step", "final", "init", "provenance", "collapsed",
                  "train_s", "eval_s", "throughput", "last_g"):
            setattr(self, k, ck[k])

    def log(self, name: str, step: int, value: float) -> None:
        self.curves.setdefault(name, []).append([step, float(value)])


def _nan_d(D: torch.nn.Module) -> Callable:
    def fn(x):
        out = D(x)
        return DOut(out.score * float("nan"), out.aux)
    return fn


def train(spec: RunSpec, out_dir: Optional[Path] = None, progress: bool = True, resume: bool = True,
          suite: Optional[str] = None, on_checkpoint: Optional[Callable[[Dict[str, Any]], None]] = None,
          meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train one run. Writes record.json, checkpoints/latest.pt and samples/ under ``out_dir``
    (if given) and returns the record. ``on_checkpoint(record)`` is called after each
    checkpoint is written (the Ray executor reports through it). ``meta`` (a suite's search
    bookkeeping) is stored in the record under ``search``. Each start and end is appended to
    ``events.jsonl`` so a suite can show that no finished run was trained twice."""
    t_wall = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else None
    if spec.threads:
        torch.set_num_threads(int(spec.threads))
    status, reason, diverged_step = "done", None, None
    run: Optional[Run] = None
    try:
        run = Run(spec)
        if resume:
            try:
                ck = read_checkpoint(out, spec.run_id)
                if ck is not None:
                    run.load_state_dict(ck)
            except Exception as e:  # an unreadable checkpoint costs the run its progress, nothing else
                print(f"{out}: cannot resume ({type(e).__name__}: {e}); starting from scratch",
                      file=sys.stderr, flush=True)
                run = Run(spec)
        _event(out, "start", run.step)
        _loop(run, out, progress, suite, on_checkpoint)
    except Diverged as e:
        status, reason, diverged_step = "diverged", str(e), e.step
    except CheckpointHookError:
        raise
    except Exception as e:  # recorded, never raised: one broken run must not stop a suite
        status, reason = "failed", f"{type(e).__name__}: {e}"
        tb = traceback.format_exc()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "traceback.txt").write_text(tb)
    record = make_record(spec, run, status, reason, diverged_step, time.perf_counter() - t_wall, suite, out)
    record["search"] = dict(meta or {})
    if out is not None:
        atomic_write_json(out / RECORD_NAME, record)
        _event(out, "end", record["counts"]["d_steps"], status)
    return record


def read_checkpoint(out: Optional[Path], run_id: str) -> Optional[Dict[str, Any]]:
    """The latest checkpoint under a run folder, loaded on the CPU (``load_state_dict`` moves
    it to the run's device), or None where there is none or it belongs to another run.
    Raises if the file cannot be read."""
    path = Path(out) / "checkpoints" / CKPT_NAME if out is not None else None
    if path is None or not path.exists():
        return None
    ck = torch.load(path, map_location="cpu", weights_only=False)
    return ck if ck.get("run_id") == run_id else None


def _event(out: Optional[Path], event: str, step: int, status: Optional[str] = None) -> None:
    if out is None:
        return
    import json

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "events.jsonl", "a") as fh:
        fh.write(json.dumps({"event": event, "step": step, "status": status, "time": time.time()}) + "\n")


def _loop(run: Run, out: Optional[Path], progress: bool, suite, on_checkpoint) -> None:
    spec = run.spec
    run.attach_data()
    first_bad = torch.full((), -1, dtype=torch.long, device=run.device)  # first non-finite step, no per-step sync
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=spec.steps, initial=run.step, desc=f"{spec.loss}/{spec.dataset}/s{spec.seed}",
                   unit="step", dynamic_ncols=True, leave=False)
    if spec.eval.every and run.step == 0 and not run.init:
        _evaluate(run, final=False, init=True)  # the generator at initialisation: the baseline score
    crash_at = spec.debug.crash_at_step if run.step == 0 else None  # only in a run started from scratch
    t0 = time.perf_counter()
    while run.step < spec.steps:
        step = run.step
        if spec.debug.raise_at_step is not None and step >= spec.debug.raise_at_step:
            raise RuntimeError(f"injected failure at step {step}")
        if crash_at is not None and step == crash_at:
            os._exit(70)  # injected: the process dies without cleaning up
        log_now = (step + 1) % spec.log_every == 0 or step + 1 == spec.steps
        g_now = (step + 1) % run.n_critic == 0
        d_loss, dlogs, fake, ctx, d_gn = run.d_update(step, keep_fake=g_now, want_grad_norm=log_now)
        first_bad = _mark_bad(first_bad, d_loss, step)
        if g_now:
            want = g_norm_wanted(step, run.n_critic, spec.log_every, spec.steps)
            g_loss, glogs, gn = run.g_update(step, fake, ctx, want_grad_norm=want)
            if gn is not None:
                run.last_g["grad_norm_g"] = gn.detach()
            first_bad = _mark_bad(first_bad, g_loss, step)
            run.last_g.update({"g_loss": g_loss.detach(), **{k: v.detach() for k, v in glogs.items()}})
        run.step = step + 1
        if log_now:
            if int(first_bad) >= 0:
                raise Diverged(int(first_bad), "loss")
            now = time.perf_counter()
            run.train_s += now - t0
            t0 = now
            vals = {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in dlogs.items()}, **run.last_g,
                    "grad_norm_d": d_gn}
            for k, v in vals.items():
                run.log(k, run.step, float(v))
            run.throughput.append([run.step, run.step / max(run.train_s, 1e-9)])  # timing: kept out of curves
            if bar is not None:
                bar.set_postfix(d=f"{float(d_loss):.3f}", g=f"{float(run.last_g.get('g_loss', float('nan'))):.3f}")
        if bar is not None:
            bar.update(1)
        ev = spec.eval.every
        if ev and run.step % ev == 0 and run.step < spec.steps:
            run.train_s += time.perf_counter() - t0
            _evaluate(run, final=False)
            t0 = time.perf_counter()
        if out is not None and (run.step % spec.checkpoint_every == 0 or run.step == spec.steps):
            run.train_s += time.perf_counter() - t0
            if run.step == spec.steps:
                _evaluate(run, final=True)
            _checkpoint(run, out, suite, on_checkpoint)
            t0 = time.perf_counter()
    run.train_s += time.perf_counter() - t0
    if out is None and not run.final:
        _evaluate(run, final=True)
    if bar is not None:
        bar.close()


def g_norm_wanted(step: int, n_critic: int, log_every: int, steps: int) -> bool:
    """Whether the G update at ``step`` is the last one before a logging point (its gradient
    norm is the one logged there)."""
    return (step + n_critic) // log_every != step // log_every or step + n_critic >= steps


def _mark_bad(first_bad: torch.Tensor, loss: torch.Tensor, step: int) -> torch.Tensor:
    """Keep the first step whose loss is non-finite, as a device tensor (no host sync); works
    elementwise, so packed runs keep one first step each."""
    return torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)


def _evaluate(run: Run, final: bool, init: bool = False) -> None:
    spec = run.spec
    if spec.eval.extractor == "none":
        return
    t = time.perf_counter()
    from .metrics import NonFiniteSamples, evaluate

    try:
        scores = evaluate(run.sample_fn(spec.eval.seed), spec.dataset, spec.eval, device=str(run.device),
                          data_root=spec.data_root)
    except NonFiniteSamples:
        raise Diverged(run.step, "generator output") from None
    run.eval_s += time.perf_counter() - t
    run.provenance = dict(scores.provenance)
    if init:
        run.init = {k: float(v) for k, v in scores.values.items() if isinstance(v, (int, float))}
    for name, value in scores.values.items():
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        run.log(f"eval.{name}", run.step, value)
        if init:
            continue  # the initial generator is a baseline, not a checkpoint candidate
        better = value < run.best.get(name, math.inf) if name in LOWER_IS_BETTER else value > run.best.get(name, -math.inf)
        if name not in run.best or better:
            run.best[name], run.best_step[name] = float(value), run.step
    if final:
        run.provenance["final_checkpoint_step"] = run.step
        run.final = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in scores.values.items()}
        run.collapsed = scores.collapsed


def _checkpoint(run: Run, out: Path, suite, on_checkpoint) -> None:
    _write_samples(run, out)
    atomic_torch_save(run.state_dict(), out / "checkpoints" / CKPT_NAME)
    rec = make_record(run.spec, run, "running" if run.step < run.spec.steps else "done", None, None,
                      None, suite, out)
    if run.step < run.spec.steps:
        atomic_write_json(out / RECORD_NAME, rec)
    if on_checkpoint is not None:
        try:
            on_checkpoint(rec)
        except Exception as e:
            raise CheckpointHookError(f"checkpoint hook failed: {type(e).__name__}: {e}") from e


def _write_samples(run: Run, out: Path) -> None:
    import torchvision.utils as vutils

    sdir = out / "samples"
    sdir.mkdir(parents=True, exist_ok=True)
    final = run.step == run.spec.steps
    if run.info.kind == "points":
        pts = run.sample_fn(run.spec.eval.seed + 1)(2500).numpy()
        _plot_points(pts, run.info, sdir / f"step_{run.step:07d}.png")
        if final:
            import numpy as np

            np.save(sdir / "points_final.npy", pts.astype("float32"))
            _plot_points(pts, run.info, sdir / "final.png")
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


def _plot_points(pts, info, path: Path) -> None:
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


def make_record(spec: RunSpec, run: Optional[Run], status: str, reason: Optional[str], diverged_step,
                wall_s: Optional[float], suite: Optional[str], out: Optional[Path]) -> Dict[str, Any]:
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
                    "init": run.init if run else {},
                    "best_step": run.best_step if run else {}, "provenance": run.provenance if run else {},
                    "selection": "best-over-checkpoints and final"},
        "curves": run.curves if run else {},
        "cost": {"wall_s": wall_s, "train_s": train_s, "eval_s": run.eval_s if run else 0.0,
                 "steps_per_s": steps_done / train_s if train_s > 0 else None,
                 "device": device_name(torch.device(spec.device)), "threads": torch.get_num_threads(),
                 "throughput": run.throughput if run else []},
        "environment": environment(),
        "artifacts": artifacts,
    }
