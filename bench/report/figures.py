"""Report figures (matplotlib Agg + seaborn), returned as PNG bytes.

Every function takes plain data (DataFrames, arrays) and returns PNG bytes, or ``None``
when there is nothing to draw.
"""

from __future__ import annotations

import io
import math
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.aggregate import dataset_label, loss_label, order_losses  # noqa: E402
from bench.aggregate.labels import loss_order  # noqa: E402
from bench.metrics.catalogue import Metric  # noqa: E402

__all__ = [
    "true_modes",
    "to_png",
    "score_distribution",
    "training_curves",
    "mode_coverage",
    "mode_thumbnail",
    "budget_plot",
]

DPI = 80

def true_modes(dataset: str) -> tuple[np.ndarray, float] | None:
    """Centres and per-mode std of a 2-D mixture, from the dataset registry (None otherwise)."""
    from ..data import DATASETS

    if dataset not in DATASETS:
        return None
    extras = DATASETS.get(dataset).extras
    if "modes" not in extras:
        return None
    return np.asarray(extras["modes"], dtype=float), float(extras["std"])


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _loss_order(losses) -> list[str]:
    return order_losses(losses)


def _palette(losses) -> dict[str, tuple]:
    known = loss_order()
    order = known + sorted(set(losses) - set(known))
    colors = sns.color_palette("tab10", n_colors=max(10, len(order)))
    return {loss: colors[i % len(colors)] for i, loss in enumerate(order)}


def score_distribution(scores: pd.DataFrame, metric: Metric, dataset: str) -> bytes | None:
    """Box + strip plot of per-run scores by objective for one dataset.

    ``scores``: columns ``loss, value`` (scored runs only) and optionally ``collapsed``.
    """
    if scores.empty:
        return None
    order = _loss_order(scores["loss"])
    d = scores.assign(objective=scores["loss"].map(loss_label))
    labels = [loss_label(x) for x in order]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(order) + 1.5), 3.2))
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's deprecated `vert`
        warnings.filterwarnings("ignore", message=".*vert: bool.*")
        sns.boxplot(data=d, x="objective", y="value", order=labels, ax=ax, color="#dbe6f3", fliersize=0, width=0.6)
    sns.stripplot(data=d, x="objective", y="value", order=labels, ax=ax, color="#1f3b73", size=4, jitter=0.15)
    ax.set_xlabel("")
    ax.set_ylabel(f"{metric.label} {metric.arrow}")
    ax.set_title(f"{dataset_label(dataset)}: {metric.label} over seeds")
    ax.tick_params(axis="x", rotation=30)
    return to_png(fig)


_PANELS = [
    ("D loss (real)", [("d_loss_real", "-")], "d_loss"),
    ("D loss (fake)", [("d_loss_fake", "-")], None),
    ("G loss", [("g_loss", "-")], None),
    ("Gradient norm (D solid, G dashed)", [("grad_norm_d", "-"), ("grad_norm_g", "--")], None),
]


def curve_panels(names: set, metric: Metric | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The training-curve panels for the curve names present: (title, [(curve name, line style)])."""
    panels = []
    for title, series, fallback in _PANELS:
        present = [(n, ls) for n, ls in series if n in names]
        if not present and fallback and fallback in names:
            present = [(fallback, "-")]
            title = "D loss"
        if present:
            panels.append((title, present))
    for attr in sorted(n.split(".", 1)[1] for n in names if n.startswith("aux_acc_fake.")):
        # multi-attribute ACGAN: a collapse of one attribute's auxiliary loss shows as its accuracy falling
        panels.append((f"Aux. accuracy, {attr} (generated solid, real dashed)",
                       [(f"aux_acc_fake.{attr}", "-"), (f"aux_acc_real.{attr}", "--")]))
    if metric is not None and f"eval.{metric.key}" in names:
        panels.append((f"{metric.label} {metric.arrow} over steps", [(f"eval.{metric.key}", "-o")]))
    return panels


def training_curves(curves: pd.DataFrame, runs_by_loss: dict[str, str], dataset: str, metric: Metric | None = None) -> bytes | None:
    """Training curves of one representative run per objective for one dataset.

    ``curves``: long table ``run_id, step, name, value``; ``runs_by_loss``: loss -> run_id.
    Panels: D loss on real and on fake data, G loss, gradient norms, per label attribute the
    auxiliary head's accuracy on generated and real samples (multi-attribute ACGAN), and the
    eval metric over steps (``eval.<metric key>``).
    """
    ids = set(runs_by_loss.values())
    c = curves[curves["run_id"].isin(ids)]
    if c.empty:
        return None
    panels = curve_panels(set(c["name"]), metric)
    if not panels:
        return None
    pal = _palette(runs_by_loss)
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.8 * nrow), squeeze=False)
    for ax, (title, series) in zip(axes.flat, panels):
        for loss in _loss_order(runs_by_loss):
            rid = runs_by_loss[loss]
            for j, (name, ls) in enumerate(series):
                s = c[(c["run_id"] == rid) & (c["name"] == name)].sort_values("step")
                if s.empty:
                    continue
                ax.plot(s["step"], s["value"], ls, color=pal[loss], lw=1.2, ms=3,
                        label=loss_label(loss) if j == 0 else None)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 9), bbox_to_anchor=(0.5, 1.04), frameon=False)
    fig.suptitle(f"{dataset_label(dataset)}: representative run per objective", y=1.09)
    fig.tight_layout()
    return to_png(fig)


def _points_over_modes(points: np.ndarray, dataset: str, size: float, thumb: bool = False):
    """Figure and axes: generated 2-D points over the true modes (red crosses, circles of 3 std);
    ``thumb``: smaller marks, unlabelled."""
    modes = true_modes(dataset)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.scatter(pts[:, 0], pts[:, 1], s=1 if thumb else 2, alpha=0.35, color="#1f3b73",
               label=None if thumb else "generated", rasterized=True, zorder=3)
    if modes is not None:
        centres, std = modes
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", color="#d62728", s=12 if thumb else 30,
                   label=None if thumb else "true modes", **({"lw": 0.8} if thumb else {}))
        for cx, cy in centres:
            ax.add_patch(plt.Circle((cx, cy), 3 * std, fill=False, color="#d62728", lw=0.4 if thumb else 0.6))
        lim = np.abs(centres).max() * 1.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    return fig, ax


def mode_coverage(points: np.ndarray, dataset: str, title: str = "") -> bytes | None:
    """Generated 2-D points over the true modes (red crosses, circles of 3 std)."""
    fig, ax = _points_over_modes(points, dataset, 3.2)
    ax.set_title(title or dataset_label(dataset), fontsize=9)
    ax.legend(loc="lower right", fontsize=6, markerscale=2)
    return to_png(fig)


def mode_thumbnail(points: np.ndarray, dataset: str) -> bytes | None:
    """A small :func:`mode_coverage` for the report's first-screen gallery: points over the true
    modes, no title, legend or ticks."""
    fig, ax = _points_over_modes(points, dataset, 1.6, thumb=True)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#ccc")
    return to_png(fig)


_BUDGET_X = {  # by -> (panel title, x label)
    "configurations": ("by configurations tried", "configurations tried (k)"),
    "d_steps": ("by compute: D steps", "D steps (all runs of the configurations)"),
    "wall_s": ("by wall time (machine-dependent)", "wall seconds (machine-dependent)"),
}


def budget_plot(curves: pd.DataFrame, metric: Metric, dataset: str | None = None) -> bytes | None:
    """Expected best score vs tuning budget (mean and band; :func:`bench.aggregate.budget_curves`):
    one row of panels per (dataset, phase), one panel per x-axis in ``curves["by"]``
    (configurations tried, D steps, wall seconds), one line per objective."""
    if curves.empty:
        return None
    if "by" not in curves:
        curves = curves.assign(by="configurations", x=curves["k"])
    if dataset is not None:
        curves = curves[curves["dataset"] == dataset]
    kinds = [b for b in _BUDGET_X if b in set(curves["by"])]
    groups = list(curves.groupby(["dataset", "phase"], sort=True))
    if not groups:
        return None
    pal = _palette(curves["loss"])
    fig, axes = plt.subplots(len(groups), len(kinds), figsize=(4.3 * len(kinds), 3.1 * len(groups)), squeeze=False)
    for row, ((ds, ph), g) in zip(axes, groups):
        for ax, kind in zip(row, kinds):
            title, xlabel = _BUDGET_X[kind]
            gk = g[g["by"] == kind]
            for loss in _loss_order(gk["loss"]):
                s = gk[gk["loss"] == loss].sort_values("x")
                ax.plot(s["x"], s["mean"], "-o" if len(s) <= 12 else "-", ms=3, color=pal[loss], lw=1.5,
                        label=loss_label(loss))
                ax.fill_between(s["x"], s["lo"], s["hi"], color=pal[loss], alpha=0.18, lw=0)
            if gk.empty:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes, color="#888")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"best {metric.label} {metric.arrow}")
            ax.set_title(f"{dataset_label(ds)} ({ph} search), {title}", fontsize=9)
            if not gk.empty:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)
