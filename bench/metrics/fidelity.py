"""The torch-fidelity call: one ``calculate_metrics`` per evaluation of images."""
from __future__ import annotations

import contextlib
from typing import Dict, Optional, Sequence

import torch

from . import extractors  # noqa: F401  (registers ganbench's feature extractors with torch-fidelity)
from .cache import cache_root

__all__ = ["U8Images", "fidelity_metrics", "torch_fidelity_version", "FIDELITY_METRICS"]

FIDELITY_METRICS = ("fid", "isc", "kid", "prc")  # torch-fidelity's metric switches (eval.metrics names)


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

    metrics = [m for m in metrics if m in FIDELITY_METRICS]
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
    extra: Dict[str, float] = {}
    with ctx, _density_coverage_from_prc_features(extra, "prc" in metrics):
        out = torch_fidelity.calculate_metrics(**kwargs)
    return {**{k: float(v) for k, v in out.items()}, **extra}


@contextlib.contextmanager
def _density_coverage_from_prc_features(out: Dict[str, float], on: bool):
    """While torch-fidelity computes precision/recall, also compute density and coverage
    (:func:`.primitives.density_coverage`) from the very feature tensors it hands to its own
    ``prc_featuresdict_to_metric`` (no second pass through the extractor). torch-fidelity's call
    and its numbers are unchanged: the wrapper calls the original with the same arguments."""
    if not on:
        yield
        return
    import torch_fidelity.metrics as tfm
    from torch_fidelity.helpers import get_kwarg

    from .primitives import density_coverage

    original = tfm.prc_featuresdict_to_metric

    def wrapped(featuresdict_1, featuresdict_2, feat_layer_name, **kw):
        result = original(featuresdict_1, featuresdict_2, feat_layer_name, **kw)
        out.update(density_coverage(featuresdict_1[feat_layer_name], featuresdict_2[feat_layer_name],
                                    get_kwarg("prc_neighborhood", kw)))
        return result

    tfm.prc_featuresdict_to_metric = wrapped
    try:
        yield
    finally:
        tfm.prc_featuresdict_to_metric = original


def torch_fidelity_version() -> str:
    import torch_fidelity

    return getattr(torch_fidelity, "__version__", "unknown")
