"""Our cells beside a published reference table (``bench.references``), or the reason they
cannot be compared."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .labels import dataset_label, loss_label
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
    metric_key: str = ""  # the result key of our table
    which: str = ""  # our table's checkpoint ("best" or "final")


def _requires_reason(ref, runs: pd.DataFrame | None, datasets) -> str:
    """Why our runs' provenance differs from what the reference requires ('' when it matches)."""
    for col, req in (ref.requires or {}).items():
        want = req.get("value") if isinstance(req, dict) else req
        setting = req.get("setting", f"{col} = {want}") if isinstance(req, dict) else f"{col} = {want}"
        what = req.get("what", "") if isinstance(req, dict) else ""
        if runs is None or col not in runs.columns:
            return (f"{ref.short} needs {what or setting}, and our runs do not record {col!r} (scored before the "
                    f"setting existed: the default definition); set {setting} in the suite and rerun.")
        r = runs[runs["dataset"].isin(datasets)] if "dataset" in runs.columns else runs
        vals = sorted(set(r[col].dropna().astype(str)))
        if vals != [str(want)]:
            return (f"{ref.short} needs {what or setting}; our runs used {col} = {', '.join(vals) or 'unknown'}; "
                    f"set {setting} in the suite and rerun.")
    return ""


def compare_reference(table: Table, reference: str | object = "lucic2018", runs: pd.DataFrame | None = None) -> Comparison:
    """Put a published reference beside our cells.

    Refuses (``comparable=False`` with a reason) unless the metric is one of the reference's
    metrics, every scored run used one of the reference's comparable extractors, and the runs'
    provenance holds what the reference ``requires`` (e.g. PacGAN's mode threshold). A published
    row that stands for an objective with a setting (``pacgan`` m) is matched with our cells of
    that m (the ``pacgan`` axis of the table, or every run's m when the table has no such axis).
    Published numbers are converted to our unit (the metric's ``scale``). ``within``: our mean
    lies within the published mean ± 2 published std; for a reference that publishes standard
    errors, within 2 standard errors of the difference (sqrt(SE_pub² + SE_ours²), SE_ours =
    std / sqrt(n), 0 for one seed).
    """
    from .. import references

    ref = references.load(reference) if isinstance(reference, str) else reference
    reason = ref.refuse_reason(table.metric.key, table.extractors)
    c = table.cells
    ds_cols = [d for d in ref.datasets if d in set(c.get("dataset", []))]
    if not reason:
        reason = _requires_reason(ref, runs, ds_cols)
    if reason:
        return Comparison(ref, False, reason, pd.DataFrame(), metric_key=table.metric.key, which=table.which)
    warnings = []
    if table.which != "best" and ref.selection == "best-over-checkpoints":
        warnings.append("Published values are the best over checkpoints; ours use the final checkpoint.")
    if table.which == "best" and ref.selection == "final":
        warnings.append("Published values are final-checkpoint scores; ours are the best over checkpoints.")
    if table.which == "best" and ref.selection == "best-over-checkpoints" and "validation" in table.selections:
        warnings.append("Published values chose the best checkpoint on the test split itself (optimistic); ours "
                        "chose it on a held-out validation split. Set eval.selection: test to compare like for like.")
    if runs is not None:
        for colname, ref_val, what in [("eval.n_fake", ref.n_fake, "generated samples"), ("eval.n_real", ref.n_real, "real samples")]:
            if colname in runs.columns and ref_val:
                vals = sorted(set(pd.to_numeric(runs[colname], errors="coerce").dropna().astype(int)))
                if vals and vals != [ref_val]:
                    warnings.append(
                        (f"{ref.metric_label} depends" if len(ref.metric_keys) == 1 else "The scores depend") +
                        f" on sample count: "
                        f"ours used {', '.join(map(str, vals))} {what}, published {ref_val}."
                    )
    pub = ref.table
    if "metric" in pub.columns:
        pub = pub[pub["metric"] == table.metric.key]
    has_m_axis = "pacgan" in table.axes
    runs_m = None
    if not has_m_axis and runs is not None and pub["pacgan"].notna().any():
        from .tables import with_pacgan

        r = with_pacgan(runs)
        runs_m = sorted(set(r.loc[r["dataset"].isin(ds_cols), "pacgan"])) if "dataset" in r else []
    sem = ref.spread == "standard error"
    recs = []
    matched = set()
    for _, p in pub.iterrows():
        if p["dataset"] not in ds_cols:
            continue
        scale = float(p.get("scale", 1.0)) if "scale" in p else 1.0
        pub_mean, pub_std = p["mean"] * scale, p["std"] * scale
        pm = p.get("pacgan", math.nan)
        ours = c[(c["loss"] == p["loss"]) & (c["dataset"] == p["dataset"])] if p["loss"] else c.iloc[0:0]
        if len(ours) and pd.notna(pm):
            if has_m_axis:
                ours = ours[ours["pacgan"] == int(pm)]
            elif runs_m is not None and runs_m != [int(pm)]:
                ours = ours.iloc[0:0]
        base = dict(loss=p["loss"], row_label=p["row_label"], dataset=p["dataset"],
                    pacgan=pm, pub_mean=pub_mean, pub_std=pub_std, outliers_excluded=p["outliers_excluded"])
        if ours.empty:
            col = dataset_label(p["dataset"]) + (f" / m={int(pm)}" if has_m_axis and pd.notna(pm) else "")
            recs.append(dict(**base, column=col, ours_mean=math.nan, ours_std=math.nan, n=0, within=None,
                             status="not run"))
            continue
        for i, o in ours.iterrows():
            matched.add(i)
            within = None
            if o["n"] > 0:
                if sem:
                    se_ours = o["std"] / math.sqrt(o["n"]) if o["n"] > 1 and math.isfinite(o["std"]) else 0.0
                    tol = 2.0 * math.sqrt(pub_std ** 2 + se_ours ** 2)
                else:
                    tol = 2.0 * pub_std
                within = bool(abs(o["mean"] - pub_mean) <= tol + 1e-12)
            recs.append(dict(**base, column=o["column"], ours_mean=o["mean"], ours_std=o["std"], n=int(o["n"]),
                             within=within, status="compared" if o["n"] else "no score"))
    # our cells without a published row (e.g. acgan; or an m the paper did not publish)
    for i, o in c[c["dataset"].isin(ds_cols)].iterrows():
        if i in matched or (o["loss"] in set(pub["loss"].dropna()) and not pub["pacgan"].notna().any()):
            continue
        if o["loss"] in set(pub["loss"].dropna()) and not has_m_axis and runs_m is None:
            continue
        label = loss_label(o["loss"]) + (f" (m={o['pacgan']})" if has_m_axis else "")
        recs.append(dict(loss=o["loss"], row_label=label, dataset=o["dataset"],
                         pacgan=o["pacgan"] if has_m_axis else math.nan, column=o["column"], ours_mean=o["mean"],
                         ours_std=o["std"], n=int(o["n"]), pub_mean=math.nan, pub_std=math.nan,
                         outliers_excluded=False, within=None, status="not published"))
    return Comparison(ref, True, "", pd.DataFrame.from_records(recs), warnings, metric_key=table.metric.key, which=table.which)
