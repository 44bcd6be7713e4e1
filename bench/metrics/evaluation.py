"""evaluate(): score a generator against a dataset's reference split.

Flow: settings (:mod:`.settings`) -> the extractor's registry entry (:mod:`.extractor_registry`)
-> the evaluator of its data kind (images: one torch-fidelity call, :mod:`.fidelity`, plus class
metrics when the extractor's logits are the dataset's classes; 2-D points: raw coordinates and
mode metrics, :mod:`.modes`) -> :class:`Scores` with provenance.
"""
from __future__ import annotations

import time
import urllib.error
from typing import Any, Callable, Dict

import torch

from ..errors import MetricsError, MissingOptionalDependency, NonFiniteSamples
from .cache import atomic_torch_save, cache_root
from .catalogue import METRICS, keys_for
from .extractor_registry import EXTRACTORS, NONE, Extractor, ExtractorContext
from .fidelity import fidelity_metrics, torch_fidelity_version
from .modes import (class_metrics, coverage_threshold, mixture_mode_metrics, mode_threshold_text,
                    per_class_precision_recall)
from .primitives import density_coverage, fid_from_features, kid_from_features, prc_from_features
from .scores import Scores
from .settings import EXTRA_KWARGS, _spec_dict, _validate, resolve_extractor

__all__ = ["evaluate", "REF_SUBSET_SEED", "CACHE_FORMAT"]

REF_SUBSET_SEED = 0  # fixed: the reference subset must not depend on the run's seed
CACHE_FORMAT = 1  # bump when cached reference features change meaning


def _reference_indices(n_split: int, n_real: int) -> torch.Tensor:
    if n_real >= n_split:
        return torch.arange(n_split)
    g = torch.Generator().manual_seed(REF_SUBSET_SEED)
    return torch.randperm(n_split, generator=g)[:n_real].sort().values


def _needs(group: str) -> frozenset:
    return frozenset().union(*(METRICS[k].needs for k in keys_for(group)))


def _unavailable(ex: Extractor, metrics) -> Dict[str, str]:
    """eval.metrics entries the extractor cannot make, with the reason."""
    out = {}
    for g in metrics:
        missing = _needs(g) - ex.capabilities
        if missing:
            out[g] = (ex.no_logits_note if missing == {"logits"} and ex.no_logits_note
                      else f"extractor {ex.name!r} does not provide {', '.join(sorted(missing))}")
    return out


def evaluate(sample_fn: Callable[[int], torch.Tensor], dataset: str, spec=None, device="cpu",
             data_root=None, cache_dir=None, **extra) -> Scores:
    """Score a generator against ``dataset``'s ``spec.ref_split``.

    ``spec``: an ``EvalSpec`` (or a dict of its fields). Extra keyword arguments:
    ``kid_subsets`` (100), ``isc_splits`` (10), ``classifier_config`` (a ``ClassifierConfig``).
    Raises ``MetricsError`` for settings that cannot work, ``NonFiniteSamples`` when the
    generator outputs NaN/inf."""
    from ..data import DATASETS, load, splits_of

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
        "ref_split": s["ref_split"], "torch_fidelity_version": torch_fidelity_version(),
        "torch_version": torch.__version__, "notes": [], "unavailable": {},
    }
    if info.extras.get("content_hash"):  # a user dataset: which files it was (bench.data.user)
        prov["dataset_content_hash"] = info.extras["content_hash"]
    if extractor == NONE:
        prov["notes"].append("eval.extractor = 'none': nothing evaluated")
        return Scores({}, prov, None)
    ex = EXTRACTORS.get(extractor)
    if s["ref_split"] not in splits_of(info):
        raise MetricsError(f"eval.ref_split: dataset {dataset!r} has no split {s['ref_split']!r}; "
                           f"valid: {', '.join(splits_of(info))}")
    if ex.check is not None:  # fail early, before any work (a missing package, a missing weights file)
        try:
            ex.check(s)
        except MissingOptionalDependency as e:
            raise MetricsError(str(e)) from None

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

    ctx = ExtractorContext(info, s, opts, device, data_root, cache_dir)
    scores = EVALUATORS[ex.data_kind](ex, ctx, fake, ref, ref_idx, metrics, prov)
    prov["eval_seconds"] = round(time.perf_counter() - t0, 3)
    if not prov["unavailable"]:
        prov.pop("unavailable")
    return scores


# --------------------------------------------------------------------------- 2-D points

def _evaluate_points(ex: Extractor, ctx: ExtractorContext, fake, ref, ref_idx, metrics, prov) -> Scores:
    fake = fake.float().cpu()
    info, s = ctx.info, ctx.settings
    real = ref.x[ref_idx].float()
    values: Dict[str, float] = {}
    prov.update(ex.provenance(ctx).values)
    if "fid" in metrics:
        values["frechet_inception_distance"] = fid_from_features(fake, real)
    if "kid" in metrics:
        values.update(kid_from_features(fake, real, s["kid_subset_size"]))
    if "prc" in metrics:
        values.update(prc_from_features(fake, real))
        values.update(density_coverage(fake, real))
    prov["unavailable"].update(_unavailable(ex, metrics))
    if any(m in metrics for m in ("fid", "kid", "prc")):
        prov["notes"].append("fid/kid/prc on 2-D data are computed on the raw coordinates")
    modes = info.extras.get("modes") if ex.mixture_modes else None
    collapsed = None
    per = {}
    if modes is not None:
        threshold = s.get("mode_threshold", "ganbench")
        mm = mixture_mode_metrics(fake, modes, float(info.extras["std"]), threshold=threshold)
        values.update(mm["values"])
        if "mode_kl" not in mm["values"]:
            prov["unavailable"]["mode_kl"] = "no high-quality sample (within 3 std of a mode): histogram empty"
        collapsed = mm["collapsed"]
        per["mode_counts"] = mm["counts"]
        prov["mode_threshold"] = mode_threshold_text(threshold, len(fake))
        prov["mode_threshold_name"] = str(threshold)
    return Scores(values, prov, collapsed, per)


# --------------------------------------------------------------------------- images

def _evaluate_images(ex: Extractor, ctx: ExtractorContext, fake, ref, ref_idx, metrics, prov) -> Scores:
    from ..data import dataset_cache_key, to_uint8

    info, s, opts, device, cache_dir = ctx.info, ctx.settings, ctx.options, ctx.device, ctx.cache_dir
    fake_u8 = fake if fake.dtype == torch.uint8 else to_uint8(fake.cpu())
    real_u8 = ref.x[ref_idx]
    made = ex.provenance(ctx)
    prov.update(made.values)
    missing = _unavailable(ex, metrics)
    if missing:
        prov["unavailable"].update(missing)
        metrics = [m for m in metrics if m not in missing]
    prov["fidelity_extractor"] = ex.fidelity_name
    # the dataset's cache key: its name, or for a user dataset (folder:, npz:) a file-name-safe key
    # holding the hash of its files and settings, so changed files never meet stale reference features
    ref_name = (f"ganbench{CACHE_FORMAT}-{dataset_cache_key(info)}-{s['ref_split']}-n{len(real_u8)}-{ex.name}-"
                f"{str(made.weights_sha)[:16]}")
    prov["reference_cache_name"] = ref_name
    fcache = cache_root(cache_dir) / "fidelity"
    prov["reference_cached"] = fcache.is_dir() and any(p.name.startswith(ref_name + "-") for p in fcache.iterdir())
    values: Dict[str, float] = {}
    try:
        values.update(fidelity_metrics(
            fake_u8, real_u8, ex.fidelity_name, metrics, device=device, batch_size=s["batch_size"],
            kid_subset_size=s["kid_subset_size"], kid_subsets=opts["kid_subsets"], isc_splits=opts["isc_splits"],
            ref_cache_name=ref_name, cache_dir=cache_dir, weights_path=made.weights_path))
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        msg = ex.explain_error(e, made.weights_path) if ex.explain_error is not None else None
        if msg:
            raise MetricsError(msg) from None
        raise
    collapsed, per = None, {}
    if ex.dataset_classes:
        collapsed, per = _class_metrics(ex, fake_u8, real_u8, ref.y[ref_idx], made.weights_path, info, values, prov,
                                        cache_dir, ref_name, device)
    else:
        able = [e.name for _, e in EXTRACTORS.items() if e.dataset_classes]
        prov["notes"].append("class coverage metrics need extractor " + " or ".join(repr(n) for n in able))
    return Scores(values, prov, collapsed, per)


def _class_metrics(ex: Extractor, fake_u8, real_u8, real_y, weights_path, info, values, prov, cache_dir, ref_name,
                   device):
    f_fake, l_fake = ex.predict(weights_path, fake_u8, device)
    ref_file = cache_root(cache_dir) / "reference" / f"{ref_name}-{ex.name}.pt"
    if ref_file.exists():
        blob = torch.load(ref_file, map_location="cpu", weights_only=True)
        f_real, y_real = blob["features"], blob["labels"]
    else:
        f_real, _ = ex.predict(weights_path, real_u8, device)
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


# One evaluator per kind of data an extractor reads (Extractor.data_kind).
EVALUATORS = {"points": _evaluate_points, "image": _evaluate_images}
