"""One generic name -> object registry, used for objectives, datasets, architectures and
feature extractors.

Each entry remembers where it came from (``origin``): the module that registered it and, for an
entry-point plugin, its distribution. ganbench's own entries show as ``builtin``. Registering a
name twice is an error naming both sources. Every query (``get``, ``names``, ``in``, ``items``,
...) first loads the ``ganbench.plugins`` entry points once per process (``bench.plugins``)."""
from __future__ import annotations

import difflib
import functools
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Generic, Iterator, List, Optional, TypeVar

from . import plugins
from .errors import RegistryError  # noqa: F401  (re-exported)

T = TypeVar("T")


@dataclass(frozen=True)
class Origin:
    """Where a registry entry came from."""

    module: str
    distribution: Optional[str] = None  # the installed distribution of an entry-point plugin

    @property
    def builtin(self) -> bool:
        return self.module == "bench" or self.module.startswith("bench.")

    @property
    def source(self) -> str:
        if self.builtin:
            return "builtin"
        dist = self.distribution or _installed_distribution(self.module)
        return f"{dist} ({self.module})" if dist else self.module

    def to_dict(self) -> Dict[str, Optional[str]]:
        return {"source": self.source, "module": self.module, "distribution": self.distribution}


@functools.lru_cache(maxsize=None)
def _installed_distribution(module: str) -> Optional[str]:
    """The installed distribution providing ``module`` (for a plugin module imported directly
    rather than through its entry point), or None. Slow (it reads every installed distribution's
    file list), so only asked when a source is shown."""
    from importlib.metadata import packages_distributions

    try:
        dists = packages_distributions().get(module.split(".")[0]) or []
    except Exception:  # noqa: BLE001 -- a broken installation only costs the distribution's name
        return None
    return dists[0] if dists else None


def _describe(o: Origin) -> str:
    return f"builtin ({o.module})" if o.builtin else o.source


def _registering_module() -> str:
    """The module that registers an entry: the first caller outside this file that is either
    outside ganbench or a module body (so a ganbench helper called by a plugin is attributed to
    the plugin, and a built-in registration to the built-in module)."""
    f = sys._getframe(1)
    first = None
    while f is not None:
        name = f.f_globals.get("__name__", "?")
        if name != __name__:
            if first is None:
                first = name
            if not (name == "bench" or name.startswith("bench.")) or f.f_code.co_name == "<module>":
                return name
        f = f.f_back
    return first or "?"


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, T] = {}
        self._origins: Dict[str, Origin] = {}

    # ---- registration (never loads plugins) ----------------------------------------------
    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T, origin: Optional[Origin] = None) -> None:
        if origin is None:
            origin = Origin(_registering_module(), plugins.current_distribution())
        if name in self._items:
            old = self._origins[name]
            raise RegistryError(f"{self.kind} {name!r} is registered twice: by {_describe(old)} and by "
                                f"{_describe(origin)}; rename one of them")
        self._items[name] = obj
        self._origins[name] = origin

    # ---- queries (load the entry-point plugins first) ------------------------------------
    def get(self, name: str) -> T:
        plugins.ensure_entry_points()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise RegistryError(self.unknown_message(name)) from None

    def origin(self, name: str) -> Origin:
        self.get(name)
        return self._origins[name]

    def source(self, name: str) -> str:
        """``builtin``, ``<distribution> (<module>)`` for an entry-point plugin, else the module."""
        return self.origin(name).source

    def unknown_message(self, name: str) -> str:
        plugins.ensure_entry_points()
        valid = ", ".join(sorted(self._items))
        close = difflib.get_close_matches(str(name), list(self._items), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {valid}"

    def names(self) -> List[str]:
        plugins.ensure_entry_points()
        return sorted(self._items)

    def in_registration_order(self) -> List[str]:
        """Names in the order they were registered (built-ins first, as their package imports them)."""
        plugins.ensure_entry_points()
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        plugins.ensure_entry_points()
        try:
            return name in self._items
        except TypeError:  # an unhashable value is no name
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        plugins.ensure_entry_points()
        return len(self._items)

    def items(self):
        return [(k, self._items[k]) for k in self.names()]
