"""Resolution and validation of run settings: names checked against the registries (objectives,
datasets, architectures) and values against what can work, before any run starts.

``resolve(loss, *layers)`` merges the objective's paper defaults with each layer in order (later
wins) and returns a validated ``RunSpec``; ``spec_from_dict`` validates a stored full config.
The plain specs themselves live in ``bench.config``, which imports none of this."""
from __future__ import annotations

import copy
import dataclasses
import inspect
from typing import Any, Dict

from .config import RunSpec, build, deep_merge
from .data import DATASETS
from .errors import ConfigError, MetricsError
from .losses import LOSSES
from .models import ARCHS

__all__ = ["resolve", "spec_from_dict", "validate", "ConfigError"]


def resolve(loss: str, *layers: Dict[str, Any], where: str = "run") -> RunSpec:
    """Objective defaults < each layer in order. Returns a validated RunSpec."""
    obj_cls = LOSSES.get(loss)
    merged: Dict[str, Any] = copy.deepcopy(obj_cls.defaults)
    for layer in layers:
        merged = deep_merge(merged, layer)
    merged["loss"] = loss
    spec = build(RunSpec, merged, where)
    validate(spec, where)
    return spec


def spec_from_dict(d: Dict[str, Any], where: str = "run") -> RunSpec:
    """A validated RunSpec from a full plain dict (e.g. a stored record's config). A stored
    ``dataset_content`` (the hash of a user dataset's files, part of the run identity) must match
    the files as they are now."""
    d = dict(d)
    recorded = d.pop("dataset_content", None)
    spec = build(RunSpec, d, where)
    validate(spec, where)
    if recorded is not None:
        now = DATASETS.get(spec.dataset).extras.get("content_hash")
        if now != recorded:
            raise ConfigError(f"{where}: dataset {spec.dataset!r} changed since this run was made: its files hash "
                              f"to {str(now)[:12]}, the run recorded {str(recorded)[:12]}; restore those files, or "
                              f"train a new run on the new ones")
    return spec


def validate(spec: RunSpec, where: str = "run") -> None:
    """Every name resolves and every value can work; else ConfigError naming ``where`` and the key."""
    try:
        obj_cls = LOSSES.get(spec.loss)
        info = DATASETS.get(spec.dataset)
        if spec.model != "auto":
            ARCHS.get(spec.model)
    except KeyError as e:
        raise ConfigError(f"{where}: {e}") from None
    if obj_cls.caps.needs_labels and not info.labelled:
        raise ConfigError(f"{where}: objective {spec.loss!r} needs class labels, but dataset "
                          f"{spec.dataset!r} is unlabelled")
    _check_attributes(spec, obj_cls, info, where)
    if spec.z_dist not in ("normal", "uniform", "mixture"):
        raise ConfigError(f"{where}.z_dist: unknown latent distribution {spec.z_dist!r}; valid: normal, uniform, "
                          f"mixture")
    _check_mixture(spec, where)
    if obj_cls.caps.step not in ("adversarial", "likelihood"):
        raise ConfigError(f"{where}: objective {spec.loss!r} declares an unknown step kind {obj_cls.caps.step!r}; "
                          f"valid: adversarial, likelihood")
    if obj_cls.caps.step == "likelihood" and spec.z_dist != "normal":
        raise ConfigError(f"{where}.z_dist: objective {spec.loss!r} is a VAE whose KL term assumes the N(0, I) "
                          f"prior; set z_dist: normal")
    if spec.optim.name not in ("adam", "rmsprop", "sgd"):
        raise ConfigError(f"{where}.optim.name: unknown optimiser {spec.optim.name!r}; valid: adam, rmsprop, sgd")
    for name, val in [("steps", spec.steps), ("batch_size", spec.batch_size), ("z_dim", spec.z_dim),
                      ("log_every", spec.log_every), ("checkpoint_every", spec.checkpoint_every)]:
        if not isinstance(val, int) or val < 1:
            raise ConfigError(f"{where}.{name}: expected a positive integer, got {val!r}")
    if spec.n_critic is not None and (not isinstance(spec.n_critic, int) or spec.n_critic < 1):
        raise ConfigError(f"{where}.n_critic: expected a positive integer, got {spec.n_critic!r}")
    for lr_name in ("lr", "lr_g", "lr_d"):
        v = getattr(spec.optim, lr_name)
        if v is not None and not (isinstance(v, (int, float)) and v > 0):
            raise ConfigError(f"{where}.optim.{lr_name}: expected a positive number, got {v!r}")
    ls = spec.stabilise.label_smoothing
    if not 0.0 <= ls < 0.5:
        raise ConfigError(f"{where}.stabilise.label_smoothing: expected 0 <= value < 0.5, got {ls!r}")
    if ls > 0 and not obj_cls.caps.label_smoothing:
        raise ConfigError(f"{where}.stabilise.label_smoothing: objective {spec.loss!r} has no "
                          f"real/fake classification target to smooth")
    if spec.fast.compile and obj_cls.caps.gradient_penalty:
        raise ConfigError(f"{where}.fast.compile: objective {spec.loss!r} differentiates D's input gradient "
                          f"(double backward), which torch.compile does not support; leave compile off")
    if spec.stabilise.instance_noise < 0:
        raise ConfigError(f"{where}.stabilise.instance_noise: must be >= 0")
    _check_pacgan(spec, obj_cls, info, where)
    _check_d_norm(spec, info, where)
    _check_user_dataset(spec, info, where)
    _check_eval(spec, info, where)
    try:
        obj_cls(**spec.loss_params)
    except TypeError as e:
        valid = [p for p in inspect.signature(obj_cls.__init__).parameters if p != "self"]
        raise ConfigError(f"{where}.loss_params: {e}; valid for {spec.loss!r}: {', '.join(valid) or 'none'}") from None


def _check_mixture(spec: RunSpec, where: str) -> None:
    from .models.priors import MIXTURE_DEFAULTS

    z = spec.z_mixture
    if not isinstance(z, dict):
        raise ConfigError(f"{where}.z_mixture: expected a mapping, got {z!r}")
    if z and spec.z_dist != "mixture":
        raise ConfigError(f"{where}.z_mixture is set but z_dist is {spec.z_dist!r}; set z_dist: mixture")
    bad = [k for k in z if k not in MIXTURE_DEFAULTS]
    if bad:
        raise ConfigError(f"{where}.z_mixture: unknown key {bad[0]!r}; valid: {', '.join(MIXTURE_DEFAULTS)}")
    k = z.get("components", 1)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"{where}.z_mixture.components: expected an integer >= 1, got {k!r}")
    if not isinstance(z.get("learn", True), bool):
        raise ConfigError(f"{where}.z_mixture.learn: expected true or false, got {z['learn']!r}")
    for key in ("mu_range", "sigma"):
        v = z.get(key, 1.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ConfigError(f"{where}.z_mixture.{key}: expected a number > 0, got {v!r}")
    reg = z.get("sigma_reg", 0.0)
    if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not 0 <= reg < float("inf"):
        raise ConfigError(f"{where}.z_mixture.sigma_reg: expected a number >= 0 (0: off), got {reg!r}")
    if reg > 0 and not z.get("learn", True):
        raise ConfigError(f"{where}.z_mixture.sigma_reg = {reg}: it regularises learned scales, but learn is false "
                          f"(the scales are fixed); set learn: true or leave sigma_reg out")


def _check_attributes(spec: RunSpec, obj_cls, info, where: str) -> None:
    """A dataset with several label attributes trains objectives that use no labels, and those
    that condition on every attribute (``Caps.multi_attribute``); one that conditions on one class
    label (CGAN's projection, ...) is refused."""
    if not info.attributes or obj_cls.caps.multi_attribute:
        return
    if not (obj_cls.caps.needs_labels or obj_cls.caps.aux_head == "class"):
        return
    multi = [n for n in LOSSES.names() if LOSSES.get(n).caps.multi_attribute]
    attrs = ", ".join(f"{n}: {c} classes" for n, c in info.attributes)
    raise ConfigError(f"{where}: objective {spec.loss!r} conditions on one class label, but dataset {spec.dataset!r} "
                      f"has {len(info.attributes)} label attributes ({attrs}); objectives that condition on several: "
                      f"{', '.join(multi) or 'none'} (objectives that use no labels train on it too), or use a dataset "
                      f"with one label")


_BUILDS: Dict[Any, str] = {}  # (architecture, shape) -> "" or why it cannot be built (memo)


def _check_user_dataset(spec: RunSpec, info, where: str) -> None:
    """A user dataset's images have a size the architecture can build (its own sizes are
    fixed by its files and ``?size=``): checked once per (architecture, shape) per process by
    building the architecture with its defaults. The dataset's own errors (missing path, no
    images, unreadable files, mixed sizes) come from resolving its name."""
    from .data.user import parse
    from .models import default_arch

    if not info.extras.get("user") or info.kind != "image":
        return
    arch = spec.model if spec.model != "auto" else default_arch(info.kind)
    key = (arch, tuple(info.shape))
    if key not in _BUILDS:
        try:
            ARCHS.get(arch)(shape=tuple(info.shape), z_in=1)
            _BUILDS[key] = ""
        except ValueError as e:
            _BUILDS[key] = str(e)
        except Exception:  # noqa: BLE001 -- anything else is the run's to report, not a size problem
            _BUILDS[key] = ""
    if _BUILDS[key]:
        c, h, w = info.shape
        raise ConfigError(f"{where}: dataset {spec.dataset!r} has {h}x{w} images, which architecture {arch!r} cannot "
                          f"build ({_BUILDS[key]}); resize them with the dataset's size setting, e.g. "
                          f"{parse(spec.dataset).hint(size=64)}, or choose another model")


D_NORMS = ("batch", "none", "spectral")


def _check_d_norm(spec: RunSpec, info, where: str) -> None:
    """``model_params.d_norm``: batch | none | spectral, where the architecture has the setting
    (spectral applies to any of them; batch only where the architecture builds it)."""
    from .models import arch_params, default_arch

    if "d_norm" not in spec.model_params:
        return
    v = spec.model_params["d_norm"]
    arch = spec.model if spec.model != "auto" else default_arch(info.kind)
    if "d_norm" not in arch_params(arch):
        raise ConfigError(f"{where}.model_params.d_norm: architecture {arch!r} has no d_norm setting")
    if v not in D_NORMS:
        raise ConfigError(f"{where}.model_params.d_norm: unknown normalisation {v!r}; valid: {', '.join(D_NORMS)}")
    if v == "batch" and arch_params(arch)["d_norm"] == "none":
        raise ConfigError(f"{where}.model_params.d_norm: architecture {arch!r} has no batch norm in D; "
                          f"valid: none, spectral")


def _check_pacgan(spec: RunSpec, obj_cls, info, where: str) -> None:
    """PacGAN's packed discriminator: m >= 1; D must be able to widen its input (the architecture
    declares ``d_pack``); an auxiliary head (ACGAN's classes, infoGAN's codes) predicts one
    sample's label or code and has no meaning for a row of m samples, so it is refused."""
    from .models import default_arch, supports_d_pack

    m = spec.stabilise.pacgan
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise ConfigError(f"{where}.stabilise.pacgan: expected a positive integer (1 = off), got {m!r}")
    if m == 1:
        return
    if obj_cls.caps.step != "adversarial":
        raise ConfigError(f"{where}.stabilise.pacgan = {m}: objective {spec.loss!r} has no discriminator to pack "
                          f"(it trains on a likelihood); use pacgan: 1")
    if obj_cls.caps.aux_head is not None:
        raise ConfigError(f"{where}.stabilise.pacgan = {m}: objective {spec.loss!r} has an auxiliary "
                          f"{obj_cls.caps.aux_head} head that predicts one sample's label or code; it does not "
                          f"apply to a packed row of {m} samples (use pacgan: 1 for {spec.loss!r})")
    arch = spec.model if spec.model != "auto" else default_arch(info.kind)
    if not supports_d_pack(arch):
        packing = [a for a in ARCHS.names() if supports_d_pack(a)]
        raise ConfigError(f"{where}.stabilise.pacgan = {m}: architecture {arch!r} cannot pack D's input; "
                          f"architectures that can: {', '.join(packing)}")


def _check_eval(spec: RunSpec, info, where: str) -> None:
    """Evaluation settings that cannot work fail here, before any run starts. The metrics
    package owns the rules (``check_eval_settings``); it is imported here, lazily, because it is
    heavy and only validation needs it."""
    from . import metrics

    try:
        metrics.check_eval_settings(dataclasses.asdict(spec.eval), info)
    except MetricsError as e:
        raise ConfigError(f"{where}: {e}") from None
