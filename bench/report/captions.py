"""Captions of the report's tables: what a table shows, how its cells were selected and what
was left out, and why a published reference can or cannot be compared."""
from __future__ import annotations

from bench.aggregate import MIN_SEEDS, Comparison, Table, extractor_label, loss_label
from bench.aggregate.selection import is_cost

__all__ = ["table_caption", "comparison_caption", "extractor_text", "extractor_names", "selection_text"]


def extractor_names(names) -> str:
    """Extractor names with their labels: ``classifier (domain classifier)``."""
    if not names:
        return "unknown extractor"
    parts = []
    for e in names:
        label = extractor_label(e)
        parts.append(f"{e} ({label})" if label else e)
    return ", ".join(parts)


def extractor_text(t: Table) -> str:
    return extractor_names(t.extractors)


def selection_text(t: Table) -> str:
    if is_cost(t.metric):
        return ""
    if t.which != "best":
        return "final checkpoint"
    sel = getattr(t, "selections", None) or []
    chosen = {"validation": "chosen on the validation split (10% of train, held out of training) and scored on "
                            "the test split",
              "test": "chosen and scored on the test split (optimistic, as Lucic et al. 2018)"}
    return "best over checkpoints" + (", " + "; ".join(chosen.get(s, s) for s in sel) if sel else "")


def table_caption(t: Table, short: bool = False, shared_selection: str | None = None) -> str:
    """The caption of one metric's table. ``short``: for the HTML report, whose overview says the
    conventions once (mean ± std, bold and underline, the statistics): only what is this table's
    own -- extractor, checkpoint selection where it differs from ``shared_selection``, too few
    seeds, the real-data row, how cells were selected, exclusions and flags."""
    m = t.metric
    sel = selection_text(t)
    if short:
        parts = [f"Extractor: {extractor_text(t)}."]
        if sel and sel != shared_selection:
            parts.append(f"Checkpoint: {sel}.")
    else:
        parts = [f"{m.label} ({m.direction}): mean ± sample std over seeds" + (f", {sel}" if sel else "") + "."]
        parts.append(f"Extractor: {extractor_text(t)}.")
        conf = int(round(t.confidence * 100))
        parts.append(
            f"Bold: best mean per column; underlined: not distinguishable from the best (its {conf}% bootstrap "
            f"rank interval over seeds reaches rank 1: seeds resampled within each objective, objectives "
            f"ranked by their resampled means) -- the report's one rule of significance."
        )
    untestable = t.cells[~t.cells["testable"].astype(bool)] if "testable" in t.cells else t.cells[:0]
    if len(untestable):
        cols = sorted(set(untestable["column"]))
        parts.append(
            f"Too few seeds for any conclusion in {', '.join(cols)} (fewer than {MIN_SEEDS} scored seeds for "
            f"some objective): only the best mean is marked; run more seeds.")
    if getattr(t, "floor", None) and short:
        parts.append("Real data row: real training images scored like a generator (a floor; no part in marks).")
    elif getattr(t, "floor", None):
        parts.append("Real data row: real training images scored in place of generated ones, against the same "
                     "reference images at the same sample counts and extractor (a floor, not an objective; it "
                     "takes no part in marks or ranks).")
    parts.append("Selection: " + "; ".join(t.rules()) + ".")
    left = [
        f"{loss_label(r['loss'])} / {r['column']}: {r['note']}"
        for _, r in t.cells.iterrows()
        if r["note"]
    ]
    if left:
        parts.append("Exclusions and flags: " + "; ".join(left) + ".")
    parts.extend(t.notes)
    return " ".join(parts)


def comparison_caption(c: Comparison) -> str:
    ref = c.reference
    if not c.comparable:
        return f"No comparison with {ref.short}: {c.reason}"
    if ref.spread == "standard error":
        label = ref.metrics.get(c.metric_key, {}).get("label", ref.metric_label) if c.metric_key else ref.metric_label
        txt = (
            f"Ours beside {ref.short} ({ref.source_short}), {label}: published mean ± standard error "
            f"over {ref.n_seeds} runs (converted to our unit); ours mean ± std over seeds. "
            f"'in 2SE': our mean lies within 2 standard errors of the difference (published SE and ours, "
            f"std/√n). 'not run': published only."
        )
    else:
        txt = (
            f"Ours beside {ref.short} ({ref.source_short}), {ref.metric_label} mean ± std. "
            f"'in 2σ': our mean lies within the published mean ± 2 std. "
            f"* published cell with outlier runs left out. 'not run': published only."
        )
    if c.warnings:
        txt += " Caveats: " + " ".join(c.warnings)
    return txt
