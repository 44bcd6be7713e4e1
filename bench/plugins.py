"""Plugins: objectives, datasets, architectures, feature extractors or metrics from other packages.

A third-party package declares modules in the entry-point group ``ganbench.plugins``::

    [project.entry-points."ganbench.plugins"]
    example = "ganbench_example"          # a module; importing it registers its entries

Importing the module registers its entries with the ordinary registries (``bench.losses.LOSSES``,
``bench.data.DATASETS``, ``bench.models.ARCHS``, ``bench.metrics.EXTRACTORS``). An entry point may
also name a function (``"pkg.mod:register"``): it is called once, with no arguments, after import.

Entry points load once per process, lazily, on the first query of any registry (``get``,
``names``, ``in``, ...), so every process that imports ganbench -- the driver and each Ray
worker -- sees the same entries. For one-off work a suite lists modules under ``imports:``;
``load_plugins`` imports them (in the driver before the suite is validated, and in each Ray
trial before it builds its run specs).

This module imports nothing from ganbench but ``bench.errors``: ``bench.registry`` calls it, never
the other way round."""
from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Iterable, List, Optional

from .errors import PluginError, RegistryError

GROUP = "ganbench.plugins"

_lock = threading.RLock()
_loaded: set = set()  # (name, value) of the entry points already loaded in this process
_failed: dict = {}  # (name, value) -> the error its loading raised (raised again, not retried)
_done = False  # every entry point of this process is loaded
_loading = False  # an entry point is being loaded now (queries meanwhile do not recurse)
_current_distribution: Optional[str] = None  # distribution whose entry point is being loaded


def current_distribution() -> Optional[str]:
    """The distribution whose entry point is loading now (entries registered meanwhile come
    from it), or None."""
    return _current_distribution


def _entry_points() -> List:
    """The entry points of the group, each (name, value) once, in a stable order."""
    from importlib.metadata import entry_points

    seen, out = set(), []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        if (ep.name, ep.value) not in seen:
            seen.add((ep.name, ep.value))
            out.append(ep)
    return out


def _distribution_name(ep) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    return name or "an unknown distribution"


def load_entry_points() -> None:
    """Import every module named in the ``ganbench.plugins`` entry-point group (idempotent).
    A failing entry point raises ``PluginError`` naming the entry point and its distribution; a
    name it registers twice raises ``RegistryError`` naming both sources."""
    global _done, _loading, _current_distribution
    with _lock:
        if _done or _loading:
            return
        _loading = True
        try:
            for ep in _entry_points():
                key = (ep.name, ep.value)
                if key in _loaded:
                    continue
                if key in _failed:  # not retried: a half-run module would register its names twice
                    raise _failed[key]
                dist = _distribution_name(ep)
                _current_distribution = dist
                try:
                    obj = ep.load()
                    if isinstance(obj, types.FunctionType):
                        obj()
                except RegistryError as e:
                    _failed[key] = e
                    raise
                except Exception as e:  # noqa: BLE001 -- any failure of third-party code is reported
                    _failed[key] = PluginError(
                        f"plugin entry point {ep.name!r} ({ep.value}) of distribution {dist!r} (group {GROUP}): "
                        f"cannot load ({type(e).__name__}: {e})")
                    raise _failed[key] from e
                finally:
                    _current_distribution = None
                _loaded.add(key)
            _done = True
        finally:
            _loading = False


def _bench_module_importing() -> bool:
    """True while a ``bench`` module is still executing its import (its registrations may be
    incomplete, and a plugin importing it would see a partial module)."""
    for name, mod in list(sys.modules.items()):
        if name == "bench" or name.startswith("bench."):
            spec = getattr(mod, "__spec__", None)
            if spec is not None and getattr(spec, "_initializing", False):
                return True
    return False


def ensure_entry_points() -> None:
    """Load the entry points unless that is done, under way, or unsafe now because a ganbench
    module is still importing (then a later query loads them). Called by every registry query."""
    if _done or _loading:
        return
    if _bench_module_importing():
        return
    load_entry_points()


def load_plugins(modules: Iterable[str], where: str = "imports") -> None:
    """Import each module (a suite's ``imports:``); importing registers its entries. A module
    that cannot be imported raises ``PluginError`` naming it and ``where`` (file and key)."""
    ensure_entry_points()
    for mod in modules or []:
        if not isinstance(mod, str) or not mod:
            raise PluginError(f"{where}: expected a module name, got {mod!r}")
        if mod in sys.modules:
            continue
        try:
            importlib.import_module(mod)
        except RegistryError:
            raise
        except Exception as e:  # noqa: BLE001
            raise PluginError(f"{where}: cannot import {mod!r} ({type(e).__name__}: {e})") from e
