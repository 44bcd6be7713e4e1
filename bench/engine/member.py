"""One run's state: its networks, optimisers, random streams, objective state and what it has
logged and scored so far. The step kinds (``solo``, ``packed``) update it; the loop
(``loop``) schedules, evaluates, checkpoints and records it. A member knows nothing of suites,
executors or other members."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Optional

import torch

from ..config import RunSpec
from ..data import DATASETS, BatchFeed, load
from ..losses import LOSSES
from ..models import build_models, default_arch
from ..models.priors import MixturePrior, mixture_settings


def make_optimizer(name: str, params, lr: float, betas, eps: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, eps=eps)
    return torch.optim.SGD(params, lr=lr)


# what a checkpoint restores besides networks, optimisers, streams and objective state
_PROGRESS = ("step", "g_steps", "curves", "best", "best_step", "final", "init", "provenance", "collapsed",
             "train_s", "eval_s", "throughput", "last_g", "select", "best_g", "restarts")


class Run:
    """Everything one training run holds. Built from its spec alone: the same spec builds the
    same initial weights and streams whether the run trains alone or packed with others."""

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.device = torch.device(spec.device)
        self.info = DATASETS.get(spec.dataset)
        self.objective = LOSSES.get(spec.loss)(**spec.loss_params)
        self.arch = spec.model if spec.model != "auto" else default_arch(self.info.kind)
        self.n_critic = spec.n_critic or self.objective.caps.n_critic
        torch.manual_seed(spec.seed)
        self.pacgan = spec.stabilise.pacgan  # PacGAN: D sees rows of m samples
        # several label attributes, where the objective conditions on them: their (name, classes),
        # and the objective sees a tuple of class counts; else () and the dataset's class count
        self.attributes = self.info.attributes if self.objective.caps.multi_attribute else ()
        self.classes = tuple(c for _, c in self.attributes) or self.info.num_classes
        self.G, self.D = build_models(self.arch, self.info.shape, spec.z_dim, self.objective,
                                      self.classes, spec.model_params, d_pack=self.pacgan)
        self.mixture = mixture_settings(spec.z_mixture) if spec.z_dist == "mixture" else None
        # DeLiGAN's regulariser of the learned scales, added to G's loss (0: off)
        self.sigma_reg = float(self.mixture["sigma_reg"]) if self.mixture and self.mixture["learn"] else 0.0
        if self.mixture is not None:  # the prior's means and scales sit in front of G, as G's parameters
            self.G = MixturePrior(self.G, spec.z_dim, **self.mixture)
        self.G.to(self.device)
        self.D.to(self.device)
        fast = spec.fast
        self.memory_format = torch.channels_last if fast.channels_last and self.info.kind == "image" else None
        if self.memory_format is not None:
            self.G.to(memory_format=self.memory_format)
            self.D.to(memory_format=self.memory_format)
        # the callables used in the training step (compiled where asked); self.G / self.D stay
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
        # eval.selection = validation: the validation scores that chose each best checkpoint, and
        # the generator weights at each step some metric currently selects (CPU copies), scored
        # on the reporting split when the run ends (bench.engine.scoring)
        self.select: Dict[str, float] = {}
        self.best_g: Dict[int, Dict[str, torch.Tensor]] = {}
        self.restarts: list = []  # why the run started over (an unreadable checkpoint), oldest first
        self.final: Dict[str, float] = {}
        self.init: Dict[str, float] = {}  # scores of the generator at initialisation (when eval.every > 0)
        self.provenance: Dict[str, Any] = {}
        self.collapsed: Optional[bool] = None
        self.train_s = 0.0
        self.eval_s = 0.0
        self.feed = None
        self.last_g: Dict[str, torch.Tensor] = {}  # G-side values of the latest G update, logged with D's
        self.throughput: list = []  # [[step, steps/s]]: timing, so apart from the deterministic curves

    # ---- latents and samples ---------------------------------------------------------
    def latents(self, n: int, gen: torch.Generator):
        if self.spec.z_dist == "uniform":
            z = torch.rand(n, self.spec.z_dim, generator=gen, device=self.device).mul_(2).sub_(1)
        else:
            z = torch.randn(n, self.spec.z_dim, generator=gen, device=self.device)
        if self.mixture is not None:  # eps and a uniformly drawn component, one-hot
            k = torch.randint(self.mixture["components"], (n,), generator=gen, device=self.device)
            z = torch.cat([z, torch.nn.functional.one_hot(k, self.mixture["components"]).to(z.dtype)], 1)
        cond, target = self.objective.sample_condition(n, self.classes, gen, self.device)
        return (z if cond is None else torch.cat([z, cond], 1)), target

    def fixed_latents(self, n: int, seed: int):
        return self.latents(n, torch.Generator(self.device).manual_seed(seed))

    @torch.no_grad()
    def generate(self, zin: torch.Tensor, batch: int = 500, G: Optional[torch.nn.Module] = None) -> torch.Tensor:
        G = self.G if G is None else G
        was = G.training
        G.eval()
        try:
            return torch.cat([G(zin[i:i + batch]) for i in range(0, len(zin), batch)]).cpu()
        finally:
            G.train(was)

    def sample_fn(self, seed: int, G: Optional[torch.nn.Module] = None) -> Callable[[int], torch.Tensor]:
        """n -> n samples (model space, CPU) from fixed latents drawn with ``seed`` (from
        generator ``G``; default: the run's current one)."""
        def fn(n: int) -> torch.Tensor:
            return self.generate(self.fixed_latents(n, seed)[0], G=G)
        return fn

    def generator_at(self, weights: Dict[str, torch.Tensor]) -> torch.nn.Module:
        """A copy of G holding ``weights`` (a state dict); the run's own G is untouched."""
        import copy

        G = copy.deepcopy(self.G)
        G.load_state_dict(weights)
        return G

    @property
    def training_split(self) -> str:
        """``fit`` (the training split without its validation part) when this run selects on
        the validation split, else the whole ``train``."""
        return "fit" if self.spec.eval.selection == "validation" else "train"

    @property
    def samples_per_step(self) -> int:
        """Real (and generated) samples drawn per step: the batch, times m under PacGAN."""
        return self.spec.batch_size * self.pacgan

    def attach_data(self) -> None:
        if getattr(self, "feed", None) is None:
            data = load(self.spec.dataset, self.training_split, self.spec.data_root).to(self.device)
            labels = data.labels if self.attributes else data.y  # N×K where the objective conditions on K
            self.feed = BatchFeed(data.x, labels, self.samples_per_step, self.spec.seed, self.info.kind)

    def autocast(self):
        """bf16 autocast around forward passes when asked (a no-op context otherwise)."""
        if not self.spec.fast.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    # ---- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {"step": self.step, "g_steps": self.g_steps, "G": self.G.state_dict(), "D": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "gen_z": self.gen_z.get_state(), "gen_aux": self.gen_aux.get_state(),
                "objective_state": {k: v.detach().clone() for k, v in self.state.items()},
                "curves": self.curves, "best": self.best, "best_step": self.best_step, "final": self.final,
                "select": self.select, "best_g": self.best_g, "restarts": self.restarts,
                "init": self.init, "provenance": self.provenance, "collapsed": self.collapsed,
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
        for k in _PROGRESS:
            setattr(self, k, ck[k])

    def log(self, name: str, step: int, value: float) -> None:
        self.curves.setdefault(name, []).append([step, float(value)])
