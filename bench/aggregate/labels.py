"""Display labels and display order of objectives, datasets and extractors, read from their
registry entries (an objective class's ``label``, ``DatasetInfo.label``, an extractor entry's
``label``). Order: ganbench's own entries in registration order, then any other name sorted."""
from __future__ import annotations

from typing import Iterable


def _registration_order(reg) -> list[str]:
    """Built-in names of a registry, in the order they were registered."""
    return [n for n in reg.in_registration_order() if reg.origin(n).builtin]


def _losses():
    from ..losses import LOSSES

    return LOSSES


def _datasets():
    from ..data import DATASETS

    return DATASETS


def loss_label(name: str) -> str:
    reg = _losses()
    if name in reg:
        return getattr(reg.get(name), "label", None) or str(name)
    return str(name)


def dataset_label(name: str) -> str:
    reg = _datasets()
    if name in reg:
        return reg.get(name).label or str(name)
    return str(name)


def extractor_label(name: str) -> str | None:
    from ..metrics import extractor_label as label

    return label(name)


def loss_order() -> list[str]:
    """ganbench's objectives in registration order (the report's row order)."""
    return _registration_order(_losses())


def order_losses(losses: Iterable[str]) -> list[str]:
    """Registry order for ganbench's objectives, then the others sorted."""
    s = set(losses)
    known = loss_order()
    return [k for k in known if k in s] + sorted(s - set(known))


def dataset_rank(v, _order: list[str] | None = None):
    """Sort key of a dataset: registration order for ganbench's datasets, then by name."""
    keys = _order if _order is not None else _registration_order(_datasets())
    return (keys.index(v), "") if v in keys else (len(keys), str(v))


def dataset_ranker():
    """``dataset_rank`` with the registry read once (for sorting many rows)."""
    keys = _registration_order(_datasets())
    return lambda v: dataset_rank(v, keys)
