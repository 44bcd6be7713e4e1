"""The result of one evaluation."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

__all__ = ["Scores"]


@dataclass
class Scores:
    """``values``: result key -> number (keys declared in :mod:`bench.metrics.catalogue`);
    ``provenance``: how they were made; ``collapsed``: mode/class collapse verdict (None when not
    measured); ``per_class``: per-class / per-mode lists."""

    values: Dict[str, float] = field(default_factory=dict)
    provenance: Dict[str, Any] = field(default_factory=dict)
    collapsed: Optional[bool] = None
    per_class: Dict[str, list] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(json.dumps({"values": self.values, "provenance": self.provenance,
                                      "collapsed": self.collapsed, "per_class": self.per_class}, default=str))

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def get(self, key: str, default=None):
        return self.values.get(key, default)
