"""Feature extractors as registry entries: each declares what it can do, and evaluation asks.

An :class:`Extractor` declares the kind of data it reads (``image`` or ``points``), whether it
gives features and logits, whether its logits are the dataset's own classes (class coverage),
whether it needs the dataset's labels (it trains on them), its input range and resolution, an
optional package it requires, the torch-fidelity feature extractor that computes FID/KID/PRC/IS
with it, and a ``provenance`` function that says which weights it uses and what goes into an
evaluation's provenance. ``eval.extractor: auto`` picks, among the entries usable on the dataset,
the one with the highest ``auto_priority``. Nothing in ganbench tests an extractor's name.

A plugin registers one with :func:`register_extractor` (or ``EXTRACTORS.add``). The built-in
entries (:mod:`.builtin_extractors`) register when the package ``bench.metrics`` is imported.
This module is light (no torch); the built-in entries import their heavy parts when used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Optional

from ..errors import MetricsError
from ..registry import Registry

__all__ = ["Extractor", "ExtractorContext", "ExtractorProvenance", "EXTRACTORS", "register_extractor",
           "usable_extractors", "auto_extractor", "extractor_label", "AUTO", "NONE", "DATA_KINDS"]

AUTO, NONE = "auto", "none"  # settings of eval.extractor, not extractors
DATA_KINDS = {"image": "images", "points": "2-D points"}


@dataclass
class ExtractorContext:
    """What an extractor's ``provenance`` function gets: the dataset's ``DatasetInfo``, the
    evaluation settings (``EvalSpec`` fields as a dict), evaluate()'s extra options, the device,
    data root and cache folder."""

    info: Any
    settings: Dict[str, Any]
    options: Dict[str, Any]
    device: Any = "cpu"
    data_root: Any = None
    cache_dir: Any = None


@dataclass
class ExtractorProvenance:
    """Weights of the extractor (``weights_path`` is passed to torch-fidelity as
    ``feature_extractor_weights_path``; ``weights_sha`` keys the reference-feature cache) and the
    entries it adds to an evaluation's provenance, in order."""

    values: Dict[str, Any]
    weights_path: Optional[str] = None
    weights_sha: Optional[str] = None


@dataclass(frozen=True)
class Extractor:
    name: str
    label: str  # display label (reports)
    data_kind: str  # "image" | "points"
    features: bool = True  # gives a feature vector per sample: FID, KID, precision/recall
    logits: bool = False  # gives class logits: Inception Score
    dataset_classes: bool = False  # the logits are the dataset's own classes: class coverage metrics
    mixture_modes: bool = False  # scores 2-D samples against the dataset's known mixture modes
    needs_labels: bool = False  # trains on the dataset's labels: refused on unlabelled data
    auto_priority: Optional[int] = None  # candidate for eval.extractor 'auto' (highest usable wins)
    fidelity_name: Optional[str] = None  # torch-fidelity feature_extractor name
    input_notes: str = ""  # input range / resolution, for people
    requires: Optional[str] = None  # optional package (install hint)
    no_logits_note: str = ""  # provenance "unavailable.isc" text when isc is asked for and logits=False
    # hooks (all optional)
    check: Optional[Callable[[Dict[str, Any]], None]] = field(default=None, repr=False)
    provenance: Optional[Callable[[ExtractorContext], ExtractorProvenance]] = field(default=None, repr=False)
    explain_error: Optional[Callable[[BaseException, Optional[str]], Optional[str]]] = field(default=None,
                                                                                                repr=False)
    predict: Optional[Callable] = field(default=None, repr=False)  # (weights_path, x_u8, device) -> (feats, logits)

    def __post_init__(self):
        if self.data_kind not in DATA_KINDS:
            raise ValueError(f"extractor {self.name!r}: data_kind must be one of {sorted(DATA_KINDS)}, "
                             f"not {self.data_kind!r}")
        if self.dataset_classes and not (self.logits and self.needs_labels and self.predict is not None):
            raise ValueError(f"extractor {self.name!r}: dataset_classes needs logits, needs_labels and predict")

    @property
    def capabilities(self) -> FrozenSet[str]:
        """What it can give a metric (the ``needs`` of :mod:`bench.metrics.catalogue`)."""
        caps = {c for c, on in (("features", self.features), ("logits", self.logits),
                                ("dataset_classes", self.dataset_classes),
                                ("mixture_modes", self.mixture_modes)) if on}
        return frozenset(caps)

    def usable_on(self, info) -> bool:
        return self.data_kind == info.kind and (info.labelled or not self.needs_labels)

    def describe(self) -> Dict[str, Any]:
        return {"name": self.name, "label": self.label, "data": self.data_kind,
                "capabilities": sorted(self.capabilities), "needs_labels": self.needs_labels,
                "torch_fidelity": self.fidelity_name, "input": self.input_notes, "requires": self.requires}


EXTRACTORS: Registry[Extractor] = Registry("feature extractor")


def register_extractor(ex: Extractor) -> Extractor:
    EXTRACTORS.add(ex.name, ex)
    return ex


def usable_extractors(info) -> List[Extractor]:
    """Entries that can evaluate dataset ``info``, highest auto priority first, then by name."""
    out = [ex for _, ex in EXTRACTORS.items() if ex.usable_on(info)]
    return sorted(out, key=lambda ex: (-(ex.auto_priority if ex.auto_priority is not None else -1), ex.name))


def auto_extractor(info) -> str:
    """The extractor ``auto`` means for this dataset."""
    cands = [ex for ex in usable_extractors(info) if ex.auto_priority is not None]
    if not cands:
        raise MetricsError(f"eval.extractor 'auto': no registered feature extractor reads "
                           f"{DATA_KINDS.get(info.kind, info.kind)} of dataset {info.name!r}")
    return cands[0].name


def extractor_label(name: str) -> Optional[str]:
    """Display label of a registered extractor, None for another name."""
    return EXTRACTORS.get(name).label if name in EXTRACTORS else None
