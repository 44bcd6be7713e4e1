"""Mode-collapse metrics.

2-D mixtures (Metz et al. 2017; VEEGAN; PacGAN): a sample is *high quality* when it lies within
3 std of some mode, and is assigned to the nearest mode; when a mode is *covered* is the
setting ``eval.mode_threshold`` (:data:`MODE_THRESHOLDS`):

- ``ganbench`` (default; every run before the setting existed): a mode needs at least 20 of
  2,500 samples (scaled to 20/2500 of n for other n) within 3 std;
- ``pacgan``: the definition of PacGAN's published code (Lin et al. 2018, fjxmlzn/PacGAN,
  ``synthetic_data_experiments/PacGAN/pacgan/extensions.py``): a mode is covered when at least
  ONE high-quality sample (Mahalanobis distance < 3 to its nearest mean) falls to it;
- an integer c >= 1: a mode needs at least c high-quality samples, whatever n.

``mode_kl`` = KL(histogram of the high-quality samples over modes || uniform) = ln K - H, PacGAN's
"reverse KL"; ``mode_entropy`` = H of that histogram (nats).

Images, through the project's classifier: a class is covered when it receives the same 20/2500
share of predicted labels; ``class_kl`` = KL(predicted-class histogram || uniform); per-class
precision/recall compare, in classifier feature space, the generated samples predicted as class
c with the real reference images of class c (k-NN manifolds, k = 3, Kynkäänniemi et al. 2019,
computed with torch-fidelity's implementation). A generator whose classes are distinct but each
collapsed to a few images keeps full class coverage but gets a low ``per_class_recall_min``.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch

from .settings import DEFAULT_MODE_THRESHOLD, MODE_THRESHOLDS, check_mode_threshold  # noqa: F401

COVER_COUNT, COVER_OF = 20, 2500  # PacGAN: a mode counts when it gets >= 20 of 2,500 samples
PRC_NEIGHBORHOOD = 3


def coverage_threshold(n: int) -> float:
    """Minimum number of samples for a mode/class to count as covered, for n samples."""
    return COVER_COUNT * n / COVER_OF


def mode_threshold_count(threshold, n: int) -> float:
    """Minimum number of high-quality samples (of n) for a mode to count as covered."""
    check_mode_threshold(threshold)
    if threshold == "ganbench":
        return coverage_threshold(n)
    if threshold == "pacgan":
        return 1
    return float(threshold)


def mode_threshold_text(threshold, n: int) -> str:
    """The provenance sentence of a threshold (the ganbench text is the one every earlier record has)."""
    if threshold == "ganbench":
        return (f"a mode counts with >= {coverage_threshold(n):g} of {n} "
                f"samples within 3 std (PacGAN's 20/2500)")
    if threshold == "pacgan":
        return ("a mode counts with >= 1 high-quality sample (distance < 3 std to its nearest mode), "
                "as in PacGAN's published code")
    return f"a mode counts with >= {threshold} of {n} samples within 3 std"


def entropy(counts: torch.Tensor) -> Optional[float]:
    """Shannon entropy (nats) of a histogram; None when it is empty."""
    counts = counts.double()
    total = counts.sum()
    if total <= 0:
        return None
    p = counts[counts > 0] / total
    return float(-(p * p.log()).sum())


def kl_to_uniform(counts: torch.Tensor) -> Optional[float]:
    """KL(p || uniform over K bins) for a histogram; None when the histogram is empty."""
    counts = counts.double()
    total = counts.sum()
    if total <= 0:
        return None
    p = counts / total
    k = counts.numel()
    nz = p > 0
    return float((p[nz] * (p[nz] * k).log()).sum())


def mixture_mode_metrics(samples: torch.Tensor, modes: torch.Tensor, std: float, n_std: float = 3.0,
                         threshold=DEFAULT_MODE_THRESHOLD) -> Dict:
    """Mode metrics of 2-D samples (N×2) against mixture modes (K×2) of common ``std``.
    ``threshold``: an ``eval.mode_threshold`` value (module docstring). Under ``pacgan`` a sample
    is high quality when its distance to the nearest mode is strictly below ``n_std`` std (their
    code's ``<``); the other thresholds keep ganbench's ``<=`` (a set of measure zero apart)."""
    x = samples.detach().double().cpu()
    m = modes.double().cpu()
    n, k = x.shape[0], m.shape[0]
    d = torch.cdist(x, m)
    dmin, nearest = d.min(1)
    good = dmin < n_std * std if threshold == "pacgan" else dmin <= n_std * std
    counts = torch.bincount(nearest[good], minlength=k)
    covered = int((counts.double() >= mode_threshold_count(threshold, n)).sum())
    out = {
        "modes_covered": float(covered),
        "num_modes": float(k),
        "high_quality_fraction": float(good.double().mean()) if n else 0.0,
    }
    kl = kl_to_uniform(counts)
    if kl is not None:
        out["mode_kl"] = kl
        out["mode_entropy"] = entropy(counts)
    return {"values": out, "counts": counts.tolist(), "collapsed": covered < k / 2}


def class_metrics(pred_labels: torch.Tensor, num_classes: int) -> Dict:
    n = pred_labels.numel()
    counts = torch.bincount(pred_labels.cpu(), minlength=num_classes)
    covered = int((counts.double() >= coverage_threshold(n)).sum())
    out = {"classes_covered": float(covered), "num_classes": float(num_classes)}
    kl = kl_to_uniform(counts)
    if kl is not None:
        out["class_kl"] = kl
    return {"values": out, "counts": counts.tolist(), "collapsed": covered < num_classes / 2}


def precision_recall(fake: torch.Tensor, real: torch.Tensor, neighborhood: int = PRC_NEIGHBORHOOD):
    """Improved precision/recall (k-NN manifolds) via torch-fidelity's implementation.
    Needs more than ``neighborhood`` samples in each set."""
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    if len(fake) <= neighborhood or len(real) <= neighborhood:
        raise ValueError(f"precision/recall needs more than {neighborhood} samples in each set "
                         f"(got {len(fake)} generated, {len(real)} real)")
    return calculate_precision_recall_full(fake.float(), real.float(), neighborhood, 10000)


def per_class_precision_recall(fake_feats: torch.Tensor, fake_pred: torch.Tensor, real_feats: torch.Tensor,
                               real_labels: torch.Tensor, num_classes: int) -> Dict[str, List[Optional[float]]]:
    """For each class c: precision/recall of the generated samples predicted as c against the
    real reference images labelled c. A class with at most ``PRC_NEIGHBORHOOD`` generated samples
    gets recall 0 (it is, in effect, missing) and precision None (undefined)."""
    prec: List[Optional[float]] = []
    rec: List[Optional[float]] = []
    for c in range(num_classes):
        f = fake_feats[fake_pred == c]
        r = real_feats[real_labels == c]
        if len(r) <= PRC_NEIGHBORHOOD:
            prec.append(None)
            rec.append(None)
        elif len(f) <= PRC_NEIGHBORHOOD:
            prec.append(None)
            rec.append(0.0)
        else:
            p, q = precision_recall(f, r)
            prec.append(float(p))
            rec.append(float(q))
    return {"class_precision": prec, "class_recall": rec}
