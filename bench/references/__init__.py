"""Published reference tables shipped with ganbench.

Each reference is one JSON data file in this package (``<key>.json``) holding the
citation, the metric and the feature extractors its numbers are comparable with, the
mapping from the paper's row names to our loss names (``null`` for rows we do not run,
e.g. VAE), and the published values (``star`` marks cells the paper computed with
outlier runs left out).

A reference may publish several metrics (``metrics``: result key -> label and ``scale``, the
factor that turns a published number into our unit, e.g. 0.01 for a percentage; each value
then names its ``metric``), a spread other than the standard deviation (``spread``: ``std`` or
``standard error``), rows that stand for one of our objectives *with a setting* (a row maps to
``{"loss": "ns", "pacgan": 2}``: NS with ``stabilise.pacgan`` m = 2), and provenance our runs
must share to be compared (``requires``: a ``runs.parquet`` column -> the value it must hold,
e.g. ``eval.mode_threshold_name: pacgan``).

>>> load("pacgan2018").value("ns", "ring8-pacgan", "modes_covered", pacgan=2)
(7.9, 0.1, False)

>>> ref = load("lucic2018")
>>> ref.value("ns", "mnist")
(6.8, 0.5, False)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Sequence

import pandas as pd

__all__ = ["Reference", "available", "load"]


@dataclass(frozen=True)
class Reference:
    key: str
    short: str
    citation: str
    bibtex: str
    metric: str
    metric_label: str
    comparable_extractors: tuple[str, ...]
    extractor_note: str
    selection: str
    n_seeds: int
    n_fake: int
    n_real: int
    datasets: dict
    rows: dict
    table: pd.DataFrame = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()
    source_short: str = ""
    metrics: dict = field(default_factory=dict)  # result key -> {"label", "scale"}
    spread: str = "std"  # "std" or "standard error"
    requires: dict = field(default_factory=dict)  # runs.parquet column -> {"value", "setting", "what"}

    @property
    def metric_keys(self) -> tuple[str, ...]:
        return tuple(self.metrics) if self.metrics else (self.metric,)

    @property
    def spread_short(self) -> str:
        return "SE" if self.spread == "standard error" else "σ"


    def value(self, loss: str, dataset: str, metric: str | None = None,
              pacgan: int | None = None) -> tuple[float, float, bool]:
        """(mean, spread, outliers_excluded) of the published cell for our loss name (in the
        published unit); ``metric`` and ``pacgan`` pick among several metrics / packed rows."""
        t = self.table
        sel = (t["loss"] == loss) & (t["dataset"] == dataset)
        if metric is not None:
            sel &= t["metric"] == metric
        if pacgan is not None:
            sel &= t["pacgan"] == pacgan
        r = t[sel]
        if r.empty:
            raise KeyError(f"{self.key} has no value for loss={loss!r}, dataset={dataset!r}")
        r = r.iloc[0]
        return float(r["mean"]), float(r["std"]), bool(r["outliers_excluded"])

    def refuse_reason(self, metric_key: str, extractors: Sequence[str]) -> str:
        """Empty string when comparable; otherwise why our numbers cannot be compared."""
        if metric_key not in self.metric_keys:
            labels = ", ".join(f"{self.metrics.get(k, {}).get('label', self.metric_label)} ({k})"
                               for k in self.metric_keys)
            return f"{self.short} reports {labels} only; this table is {metric_key}."
        extractors = list(extractors)
        if not extractors:
            return (
                f"the feature extractor of our runs is unknown; {self.short} used {self.extractor_note} "
                f"(comparable extractors: {', '.join(self.comparable_extractors)})."
            )
        bad = [e for e in extractors if e not in self.comparable_extractors]
        if bad:
            return (
                f"our runs used the '{', '.join(bad)}' extractor; {self.short} used {self.extractor_note}, "
                f"so scores are on a different scale (comparable extractors: "
                f"{', '.join(self.comparable_extractors)})."
            )
        return ""


def available() -> list[str]:
    """Keys of the shipped references."""
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))


def load(key: str) -> Reference:
    """Load a shipped reference by key (e.g. ``"lucic2018"``)."""
    if key not in available():
        raise KeyError(f"unknown reference {key!r}; available: {', '.join(available())}")
    d = json.loads(resources.files(__name__).joinpath(f"{key}.json").read_text(encoding="utf-8"))
    rows = d["rows"]

    def _loss(row):
        v = rows[row]
        return v.get("loss") if isinstance(v, dict) else v

    def _pacgan(row):
        v = rows[row]
        return float(v["pacgan"]) if isinstance(v, dict) and "pacgan" in v else float("nan")

    metrics = dict(d.get("metrics") or {})
    unknown_ds = {v["dataset"] for v in d["values"]} - set(d["datasets"])
    if unknown_ds:
        raise ValueError(f"{key}.json: values name undeclared datasets {sorted(unknown_ds)}")
    table = pd.DataFrame(
        {
            "row_label": [v["row"] for v in d["values"]],
            "loss": [_loss(v["row"]) for v in d["values"]],
            "pacgan": [_pacgan(v["row"]) for v in d["values"]],
            "dataset": [v["dataset"] for v in d["values"]],
            "metric": [v.get("metric", d["metric"]) for v in d["values"]],
            "mean": [float(v["mean"]) for v in d["values"]],
            "scale": [float(metrics.get(v.get("metric", d["metric"]), {}).get("scale", 1.0)) for v in d["values"]],
            "std": [float(v["std"]) for v in d["values"]],
            "outliers_excluded": [bool(v["star"]) for v in d["values"]],
        }
    )
    return Reference(
        key=d["key"],
        short=d["short"],
        citation=d["citation"],
        bibtex=d["bibtex"],
        metric=d["metric"],
        metric_label=d["metric_label"],
        comparable_extractors=tuple(d["comparable_extractors"]),
        extractor_note=d["extractor_note"],
        selection=d["selection"],
        n_seeds=int(d["n_seeds"]),
        n_fake=int(d["n_fake"]),
        n_real=int(d["n_real"]),
        datasets=dict(d["datasets"]),
        rows=dict(rows),
        table=table,
        notes=tuple(d.get("notes", ())),
        source_short=d.get("source_short", ""),
        metrics=metrics,
        spread=d.get("spread", "std"),
        requires=dict(d.get("requires") or {}),
    )
