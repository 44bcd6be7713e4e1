"""Run configuration as plain specs: small nested dataclasses, built from plain dicts with
strict key checks (``build``), ``to_dict``, ``deep_merge`` and the run id.

This module imports no objective, dataset, model or metric code (not even inside functions):
resolving names and validating values is ``bench.validate``'s job (``resolve``,
``spec_from_dict``, ``validate``).

Settings resolve in one documented order (later wins):
    objective's paper defaults  <  suite ``fixed`` / CLI flags  <  per-objective ``overrides``
    <  a search sample.
``RunSpec.run_id`` hashes the resolved configuration (runtime-only fields such as device and
data root excluded) together with ``TRAINING_SEMANTICS_VERSION`` and, for a user dataset
(``folder:PATH``, ``npz:PATH``), the hash of its files."""
from __future__ import annotations
from .errors import ConfigError  # noqa: F401

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import TRAINING_SEMANTICS_VERSION

# A dataset whose name does not fix its data (a user dataset: ``folder:PATH``, ``npz:PATH``)
# adds the hash of its files to the run identity (``dataset_content``), so a run on changed files
# gets another id. ``bench.data`` installs the function (dataset name -> content hash, or None for
# a dataset whose name fixes its data) when it is imported; this module imports no dataset code.
_dataset_content: Callable[[str], Optional[str]] = lambda name: None


def set_dataset_content_hook(fn: Callable[[str], Optional[str]]) -> None:
    global _dataset_content
    _dataset_content = fn


@dataclass
class OptimSpec:
    name: str = "adam"  # adam | rmsprop | sgd
    lr: float = 2e-4
    lr_g: Optional[float] = None  # TTUR: separate generator / discriminator learning rates
    lr_d: Optional[float] = None
    betas: Tuple[float, float] = (0.5, 0.999)
    eps: float = 1e-8

    @property
    def g_lr(self) -> float:
        return self.lr if self.lr_g is None else self.lr_g

    @property
    def d_lr(self) -> float:
        return self.lr if self.lr_d is None else self.lr_d


@dataclass
class StabiliseSpec:
    """Stabilisation options, all off by default."""

    label_smoothing: float = 0.0  # one-sided: D's real target becomes 1 - label_smoothing
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, decayed linearly to 0
    # PacGAN (Lin et al. 2018): D sees m samples concatenated along features; each step draws m
    # batches of real and of generated samples. 1 = off. Left out of the run id while 1.
    pacgan: int = 1


@dataclass
class EvalSpec:
    every: int = 0  # evaluate every N discriminator steps (0: only at the end)
    extractor: str = "auto"  # auto | classifier | inception | inception-offline | modes | none
    metrics: List[str] = field(default_factory=lambda: ["fid", "isc", "kid", "prc"])
    num_samples: int = 10_000  # generated samples (protocol: 10,000)
    num_real: Optional[int] = None  # reference images (default: num_samples, capped by the split)
    ref_split: str = "test"
    batch_size: int = 200
    kid_subset_size: int = 1000
    seed: int = 0  # seed of the fixed evaluation latents
    weights_path: Optional[str] = None  # local weights file for the 'inception' extractor
    # when a mode of a 2-D mixture counts as covered: 'ganbench' (>= 20 of 2,500 samples, scaled),
    # 'pacgan' (>= 1 high-quality sample, PacGAN's code) or an integer count (bench.metrics.modes).
    # Added after run ids existed: left out of the identity at its default, so every id stays.
    mode_threshold: Union[str, int] = "ganbench"
    # which split chooses the best checkpoint (and a search's best configuration):
    # 'validation' (default): a fixed, class-stratified 10% of the training split, held out from
    #   training, scored with latents independent of the reported ones; tables report the selected
    #   generator's score on ref_split;
    # 'test': select and report on ref_split (optimistic; the protocol of Lucic et al. 2018).
    selection: str = "validation"


@dataclass
class FastSpec:
    """Throughput options, all off by default. They can change the numbers (bf16 most), so they
    are part of the run id."""

    bf16: bool = False  # bf16 autocast for forward passes (CUDA; runs on CPU, where it is slower)
    channels_last: bool = False  # channels-last memory format for image networks
    compile: bool = False  # torch.compile the forward passes (reduce-overhead mode on CUDA)


@dataclass
class DebugSpec:
    """Fault injection for tests of divergence and failure handling."""

    nan_at_step: Optional[int] = None  # D's output becomes NaN from this step on
    nan_seeds: Optional[List[int]] = None  # ... only in runs with these seeds (None: every seed)
    raise_at_step: Optional[int] = None  # training raises an exception at this step
    # ... only in runs with these seeds (None: every seed). Lets one member of a packed unit fail
    # while its siblings go on. Added after run ids existed: left out of the identity while unset,
    # so every earlier run keeps its id.
    raise_seeds: Optional[List[int]] = None
    # the process training the run dies (os._exit) on reaching this step, unless the run was
    # resumed from a checkpoint: a worker lost mid-run. It changes no number, so it is left out of
    # the run id (a resumed run must equal an uninterrupted one).
    crash_at_step: Optional[int] = None


@dataclass
class RunSpec:
    loss: str
    dataset: str
    model: str = "auto"  # auto: mlp for 2-D data, dcgan for images
    seed: int = 0
    steps: int = 2000  # discriminator updates (the protocol's count)
    batch_size: int = 64
    z_dim: int = 64
    z_dist: str = "normal"  # normal: N(0, I); uniform: U[-1, 1] (Lucic et al. 2018); mixture (z_mixture)
    # z_dist = mixture: {components, learn, mu_range, sigma} (bench.models.priors; DeLiGAN / GM-GAN).
    # Left out of the run id while empty.
    z_mixture: Dict[str, Any] = field(default_factory=dict)
    n_critic: Optional[int] = None  # None: the objective's default
    optim: OptimSpec = field(default_factory=OptimSpec)
    loss_params: Dict[str, Any] = field(default_factory=dict)
    model_params: Dict[str, Any] = field(default_factory=dict)
    stabilise: StabiliseSpec = field(default_factory=StabiliseSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)
    log_every: int = 50
    checkpoint_every: int = 500
    fast: FastSpec = field(default_factory=FastSpec)
    debug: DebugSpec = field(default_factory=DebugSpec)
    # runtime-only: how and where, not what (excluded from the run id)
    device: str = "cpu"
    data_root: Optional[str] = None
    threads: Optional[int] = None

    RUNTIME_FIELDS = ("device", "data_root", "threads")

    def identity(self) -> Dict[str, Any]:
        d = to_dict(self)
        for k in self.RUNTIME_FIELDS:
            d.pop(k, None)
        d["debug"].pop("crash_at_step", None)
        if d["debug"].get("raise_seeds") is None:
            d["debug"].pop("raise_seeds", None)
        if d["stabilise"].get("pacgan") == 1:  # added after run ids existed: unset keeps every id
            d["stabilise"].pop("pacgan", None)
        if not d.get("z_mixture"):
            d.pop("z_mixture", None)
        if d["eval"].get("mode_threshold") == "ganbench":  # added after run ids existed: default keeps ids
            d["eval"].pop("mode_threshold", None)
        content = _dataset_content(self.dataset)
        if content is not None:  # user datasets only: every other run keeps its id
            d["dataset_content"] = content
        d["semantics_version"] = TRAINING_SEMANTICS_VERSION
        return d

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def to_dict(obj) -> Dict[str, Any]:
    d = dataclasses.asdict(obj)
    return json.loads(json.dumps(d))  # tuples -> lists, a plain JSON-able tree


def build(cls, data: Dict[str, Any], where: str):
    """A spec dataclass from a plain dict: unknown keys are a ConfigError naming the key (with
    a close match) and the valid keys; nested sections build recursively. No validation of
    names or values (that is ``bench.validate``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        import difflib

        k = unknown[0]
        close = difflib.get_close_matches(k, list(fields), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: unknown key {k!r}.{hint} Valid keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for k, v in data.items():
        sub = NESTED.get((cls, k))
        if sub is not None:
            kwargs[k] = build(sub, v or {}, f"{where}.{k}")
        elif k == "betas":
            if not (isinstance(v, (list, tuple)) and len(v) == 2):
                raise ConfigError(f"{where}.betas: expected two numbers, got {v!r}")
            kwargs[k] = (float(v[0]), float(v[1]))
        else:
            kwargs[k] = v
    return cls(**kwargs)


NESTED = {
    (RunSpec, "optim"): OptimSpec,
    (RunSpec, "stabilise"): StabiliseSpec,
    (RunSpec, "eval"): EvalSpec,
    (RunSpec, "debug"): DebugSpec,
    (RunSpec, "fast"): FastSpec,
}


def deep_merge(base: Dict[str, Any], layer: Dict[str, Any]) -> Dict[str, Any]:
    """Merge ``layer`` over ``base`` (mappings merge key by key; anything else replaces).
    Setting ``optim.lr`` in a later layer clears earlier ``lr_g``/``lr_d`` it does not restate,
    so a suite's single learning rate is not shadowed by an objective's TTUR default."""
    out = copy.deepcopy(base)
    for k, v in (layer or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            cur = out[k]
            if k == "optim" and "lr" in v:
                for sub in ("lr_g", "lr_d"):
                    if sub not in v:
                        cur.pop(sub, None)
            out[k] = deep_merge(cur, v)
        else:
            out[k] = copy.deepcopy(v)
    return out


_build = build  # former private name
