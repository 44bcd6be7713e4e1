"""Our cells beside a published reference table (``bench.references``), or the reason they
cannot be compared."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .labels import loss_label
from .tables import Table

__all__ = ["Comparison", "compare_reference"]


@dataclass
class Comparison:
    """Our cells beside a published table.  When ``comparable`` is False, ``reason``
    says why and ``cells`` is empty. The caption is written by the report layer
    (:func:`bench.report.captions.comparison_caption`)."""

    reference: object
    comparable: bool
    reason: str
    cells: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def compare_reference(table: Table, reference: str | object = "lucic2018", runs: pd.DataFrame | None = None) -> Comparison:
    """Put a published reference beside our cells.

    Refuses (``comparable=False`` with a reason) unless the metric is the reference's
    metric and every scored run used one of the reference's comparable extractors.
    """
    from .. import references

    ref = references.load(reference) if isinstance(reference, str) else reference
    reason = ref.refuse_reason(table.metric.key, table.extractors)
    if reason:
        return Comparison(ref, False, reason, pd.DataFrame())
    warnings = []
    if table.which != "best" and ref.selection == "best-over-checkpoints":
        warnings.append("Published values are the best over checkpoints; ours use the final checkpoint.")
    if runs is not None:
        for colname, ref_val, what in [("eval.n_fake", ref.n_fake, "generated samples"), ("eval.n_real", ref.n_real, "real samples")]:
            if colname in runs.columns and ref_val:
                vals = sorted(set(pd.to_numeric(runs[colname], errors="coerce").dropna().astype(int)))
                if vals and vals != [ref_val]:
                    warnings.append(
                        f"FID depends on sample count: ours used {', '.join(map(str, vals))} {what}, published {ref_val}."
                    )
    pub = ref.table
    c = table.cells
    recs = []
    ds_cols = [d for d in ref.datasets if d in set(c.get("dataset", []))]
    for _, p in pub.iterrows():
        if p["dataset"] not in ds_cols:
            continue
        ours = c[(c["loss"] == p["loss"]) & (c["dataset"] == p["dataset"])] if p["loss"] else c.iloc[0:0]
        if ours.empty:
            recs.append(dict(loss=p["loss"], row_label=p["row_label"], dataset=p["dataset"], ours_mean=math.nan,
                             ours_std=math.nan, n=0, pub_mean=p["mean"], pub_std=p["std"],
                             outliers_excluded=p["outliers_excluded"], within=None,
                             status="not run"))
            continue
        for _, o in ours.iterrows():
            within = None
            if o["n"] > 0:
                within = bool(abs(o["mean"] - p["mean"]) <= 2.0 * p["std"] + 1e-12)
            recs.append(dict(loss=p["loss"], row_label=p["row_label"], dataset=p["dataset"], ours_mean=o["mean"],
                             ours_std=o["std"], n=int(o["n"]), pub_mean=p["mean"], pub_std=p["std"],
                             outliers_excluded=p["outliers_excluded"], within=within,
                             status="compared" if o["n"] else "no score"))
    # our objectives without a published row (e.g. acgan)
    pub_losses = set(pub["loss"].dropna())
    for _, o in c[c["dataset"].isin(ds_cols) & ~c["loss"].isin(pub_losses)].iterrows():
        recs.append(dict(loss=o["loss"], row_label=loss_label(o["loss"]), dataset=o["dataset"], ours_mean=o["mean"],
                         ours_std=o["std"], n=int(o["n"]), pub_mean=math.nan, pub_std=math.nan,
                         outliers_excluded=False, within=None, status="not published"))
    return Comparison(ref, True, "", pd.DataFrame.from_records(recs), warnings)
