"""Suite files: YAML -> validated Suite -> planned runs.

Schema (every key is checked when the file loads; errors name the file and the key):

    name: quick                 # results go to results/<name>/
    version: 1                  # bump when what the suite means changes
    description: ...            # optional
    grid:                       # crossed; loss, dataset, seed required
      loss: [ns, wgan]
      dataset: [ring8]
      seed: [0, 1, 2]
      model: [dcgan]            # optional further axes: any run setting, dotted paths allowed
      stabilise.label_smoothing: [0.0, 0.1]
    fixed: {steps: 2000, batch_size: 64, optim: {...}}   # run settings for every run
    datasets: {ring8: {steps: 3000}}                      # per-dataset settings
    overrides: {wgan: {optim: {name: rmsprop, lr: 5.0e-5}}}  # per-objective settings
    eval: {every: 500, num_samples: 2000, extractor: auto}   # merged into every run's eval
    resources: {cpu: 1, gpu: 0}   # per trial; fractions allowed
    imports: [my_objectives]      # optional: modules imported first (in the driver and in every
                                  # Ray trial) that register objectives, datasets, models, ...
    pack: 1                       # train up to K runs that differ only in seed as one vmapped model
                                  # (bench.pack; same run ids and records as unpacked; 1 = off)
    search:                       # optional (Lucic et al. 2018 protocol)
      samples: 100                # wide phase: configurations per (loss, dataset); sample 0 = defaults
      seed: 0                     # seed of the sampler
      metric: frechet_inception_distance   # chosen by its best-over-checkpoints value
      space:      {optim.lr: {log_uniform: [1.0e-5, 1.0e-2]}, optim.beta1: {uniform: [0, 1]}}
      space_per_loss: {wgan: {loss_params.clip: {log_uniform: [1.0e-3, 1.0]}}}
      narrow: {samples: 50, fixed: {optim: {betas: [0.5, 0.999]}, n_critic: 1},
               space: {optim.lr: {log_uniform: [1.0e-4, 1.0e-3]}}}
      final_seeds: 50             # the best configuration retrained over this many fresh seeds
                                  # (grid.seed[0] + 1, ...; the search itself uses grid.seed[0])
      halving:                    # optional: successive halving, deterministic and synchronous
        rungs: [500, 1500, 4500]  # D steps per rung (a list), or a count R: rung r trains
                                  # round(steps / eta ** (R - 1 - r)), so the last rung is `steps`
        eta: 3                    # rung r + 1 keeps the best max(1, n_r // eta) configurations
    allow_unequal_budgets: false  # true: run a suite whose objectives get different budgets

Settings resolve, later winning: objective paper defaults < fixed (+ eval) < datasets[dataset]
< grid axes < overrides[loss] < search sample (< the rung's steps under halving).

Equal budgets. A budget is configurations tried x D steps each trains. Unless
``allow_unequal_budgets: true``, a suite is refused (SuiteError naming the file and the key) when
its objectives' budgets differ: resolved ``steps`` that differ between objectives on one dataset,
per-objective ``overrides`` of a grid axis (they collapse that objective's runs) or of a setting the
search samples (sample 0 would differ), ``space_per_loss`` entries outside ``loss_params.`` (extras
are for parameters only that objective has), or ``steps`` sampled by the search."""
from __future__ import annotations
from .errors import GanbenchError, SuiteError  # noqa: F401

import copy
import difflib
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import yaml

from .config import ConfigError, RunSpec, deep_merge, to_dict
from .data import DATASETS
from .losses import LOSSES
from .plugins import load_plugins
from .validate import resolve

TOP_KEYS = {"name", "version", "description", "grid", "fixed", "datasets", "overrides", "eval", "resources",
            "search", "pack", "imports", "allow_unequal_budgets"}
SEARCH_KEYS = {"samples", "seed", "metric", "space", "space_per_loss", "narrow", "final_seeds", "halving"}
HALVING_KEYS = {"rungs", "eta"}
NARROW_KEYS = {"samples", "fixed", "space"}
DISTRIBUTIONS = {"log_uniform", "uniform", "choice", "int_uniform"}


@dataclass
class PlannedRun:
    spec: RunSpec
    phase: str  # grid | wide | narrow | final
    config_id: str  # identity of the configuration without the seed
    sample: Optional[int] = None
    rung: Optional[int] = None  # successive halving: the rung (0 = every sampled configuration)
    # budget bookkeeping of search runs (JSON scalars, merged into record["search"]): run_d_steps,
    # cell_configs, cell_runs, cell_d_steps; under halving also rungs and rung_configs
    budget: Dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    def meta(self) -> Dict[str, Any]:
        m = {"phase": self.phase, "config_id": self.config_id, "sample": self.sample}
        if self.rung is not None:
            m["rung"] = self.rung
        m.update(self.budget)
        return m


@dataclass
class Suite:
    name: str
    version: int
    path: Optional[Path]
    grid: Dict[str, List[Any]]
    fixed: Dict[str, Any] = field(default_factory=dict)
    datasets: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    overrides: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    eval: Dict[str, Any] = field(default_factory=dict)
    resources: Dict[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    search: Optional[Dict[str, Any]] = None
    pack: int = 1
    imports: List[str] = field(default_factory=list)  # plugin modules (bench.plugins.load_plugins)
    description: str = ""
    raw: Dict[str, Any] = field(default_factory=dict)
    allow_unequal_budgets: bool = False
    # why the objectives' budgets differ, when the suite allows it (None: equal by construction)
    unequal_budgets: Optional[str] = None

    # ---- expansion ---------------------------------------------------------------------
    def base_layers(self, loss: str, dataset: str, axes: Dict[str, Any]) -> List[Dict[str, Any]]:
        fixed = deep_merge(self.fixed, {"eval": self.eval} if self.eval else {})
        axis_layer: Dict[str, Any] = {}
        for k, v in axes.items():
            _set_path(axis_layer, k, v)
        return [fixed, {"dataset": dataset}, self.datasets.get(dataset, {}), axis_layer,
                self.overrides.get(loss, {})]

    def make_spec(self, loss, dataset, axes, extra=None, where=None) -> RunSpec:
        layers = self.base_layers(loss, dataset, axes) + ([extra] if extra else [])
        return resolve(loss, *layers, where=where or f"{self.where} (loss={loss}, dataset={dataset})")

    @property
    def where(self) -> str:
        return str(self.path) if self.path else self.name

    def axis_combos(self):
        other = [k for k in self.grid if k not in ("loss", "dataset", "seed")]
        for loss in self.grid["loss"]:
            for dataset in self.grid["dataset"]:
                for values in itertools.product(*[self.grid[k] for k in other]):
                    yield loss, dataset, dict(zip(other, values))

    def plan_grid(self) -> List[PlannedRun]:
        runs = []
        for loss, dataset, axes in self.axis_combos():
            for seed in self.grid["seed"]:
                spec = self.make_spec(loss, dataset, {**axes, "seed": seed})
                runs.append(PlannedRun(spec, "grid", config_id(spec)))
        return runs

    @property
    def halving(self) -> Optional[Dict[str, Any]]:
        return (self.search or {}).get("halving") or None

    def n_rungs(self) -> int:
        h = self.halving
        if not h:
            return 1
        return len(h["rungs"]) if isinstance(h["rungs"], list) else int(h["rungs"])

    def rung_steps(self, steps: int) -> List[int]:
        """D steps of each rung for a configuration whose resolved ``steps`` is ``steps``."""
        h = self.halving
        if not h:
            return [steps]
        if isinstance(h["rungs"], list):
            return [int(x) for x in h["rungs"]]
        R, eta = int(h["rungs"]), h.get("eta", 3)
        return [max(1, int(round(steps / eta ** (R - 1 - r)))) for r in range(R)]

    def rung_sizes(self, n0: int) -> List[int]:
        """Configurations per cell at each rung: n_0 = samples, n_{r+1} = max(1, n_r // eta)."""
        sizes = [n0]
        eta = (self.halving or {}).get("eta", 3)
        for _ in range(self.n_rungs() - 1):
            sizes.append(max(1, sizes[-1] // eta))
        return sizes

    def plan_search(self, phase: str, rung: Optional[int] = None,
                    promoted: Optional[Dict[Any, Any]] = None) -> List[PlannedRun]:
        """The runs of a search phase. Under halving, ``rung`` r trains each configuration for the
        rung's D steps, and only the samples in ``promoted[cell_key]`` (from rung r - 1's records)."""
        s = self.search
        conf = s if phase == "wide" else s["narrow"]
        seed0 = self.grid["seed"][0]
        halving = self.halving is not None and rung is not None
        runs = []
        for loss, dataset, axes in self.axis_combos():
            key = cell_key(loss, dataset, axes)
            space = dict(s.get("space", {})) if phase == "wide" else dict(conf.get("space", {}))
            if phase == "wide":
                space.update(s.get("space_per_loss", {}).get(loss, {}))
            n = conf["samples"]
            cell_runs, cell_steps, budget = [], 0, {}
            for i in range(n):
                if promoted is not None and i not in promoted.get(key, ()):
                    continue
                extra = deep_merge(conf.get("fixed", {}) if phase == "narrow" else {},
                                   {} if (phase == "wide" and i == 0) else
                                   sample_config(space, _rng(s.get("seed", 0), loss, dataset, axes, phase, i)))
                extra = _expand_betas(extra, loss)
                spec = self.make_spec(loss, dataset, {**axes, "seed": seed0}, extra)
                if halving:
                    steps = self.rung_steps(spec.steps)
                    sizes = self.rung_sizes(n)
                    budget = {"rungs": len(steps), "rung_configs": sizes[rung], "cell_runs": sum(sizes),
                              "cell_d_steps": sum(a * b for a, b in zip(sizes, steps))}
                    spec = self.make_spec(loss, dataset, {**axes, "seed": seed0},
                                          deep_merge(extra, {"steps": steps[rung]}))
                else:
                    cell_steps += spec.steps
                cell_runs.append(PlannedRun(spec, phase, config_id(spec), i, rung=rung if halving else None))
            for p in cell_runs:
                p.budget = {"run_d_steps": p.spec.steps, "cell_configs": n,
                            **(budget if halving else {"cell_runs": n, "cell_d_steps": cell_steps})}
            runs += cell_runs
        return runs

    def plan_final(self, best: Dict[str, RunSpec]) -> List[PlannedRun]:
        """``best``: config_id-independent map (loss, dataset, axes-key) -> best spec of the search."""
        runs = []
        seed0 = self.grid["seed"][0]
        for key, spec in best.items():
            # fresh seeds, distinct from the search's seed so no final run repeats a search run
            n = self.search["final_seeds"]
            for seed in range(seed0 + 1, seed0 + 1 + n):
                s = copy.deepcopy(spec)
                s.seed = seed
                runs.append(PlannedRun(s, "final", config_id(s), budget={
                    "run_d_steps": s.steps, "cell_configs": 1, "cell_runs": n, "cell_d_steps": n * s.steps}))
        return runs

    def phases(self) -> List[str]:
        if not self.search:
            return ["grid"]
        return ["wide"] + (["narrow"] if self.search.get("narrow") else []) + ["final"]

    def count(self) -> int:
        if not self.search:
            return len(self.plan_grid())
        n_cells = sum(1 for _ in self.axis_combos())
        s = self.search
        searched = sum(self.rung_sizes(s["samples"])) + (sum(self.rung_sizes(s["narrow"]["samples"]))
                                                         if s.get("narrow") else 0)
        return n_cells * (searched + s["final_seeds"])

    def cell_of(self, spec: RunSpec) -> tuple:
        """The cell (loss, dataset, other grid axes) a run belongs to, as ``cell_key`` spells it."""
        d = to_dict(spec)
        axes = {k: _get_path(d, k) for k in self.grid if k not in ("loss", "dataset", "seed")}
        return cell_key(spec.loss, spec.dataset, axes)


def cell_key(loss: str, dataset: str, axes: Dict[str, Any]) -> tuple:
    return (loss, dataset, json.dumps(axes, sort_keys=True, default=str))


def _get_path(d: Dict[str, Any], path: str) -> Any:
    for p in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _rng(seed, loss, dataset, axes, phase, i) -> np.random.RandomState:
    key = json.dumps([seed, loss, dataset, axes, phase, i], sort_keys=True, default=str)
    return np.random.RandomState(int(hashlib.sha256(key.encode()).hexdigest()[:8], 16))


def sample_config(space: Dict[str, Any], rng: np.random.RandomState) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for path in sorted(space):
        dist = space[path]
        (kind, arg), = dist.items()
        if kind == "log_uniform":
            v = float(np.exp(rng.uniform(np.log(arg[0]), np.log(arg[1]))))
        elif kind == "uniform":
            v = float(rng.uniform(arg[0], arg[1]))
        elif kind == "int_uniform":
            v = int(rng.randint(arg[0], arg[1] + 1))
        else:
            v = arg[int(rng.randint(len(arg)))]
        _set_path(out, path, v)
    return out


def _expand_betas(extra: Dict[str, Any], loss: str) -> Dict[str, Any]:
    """``optim.beta1`` sets β1 and keeps the resolved β2."""
    optim = extra.get("optim", {})
    if "beta1" in optim:
        extra = copy.deepcopy(extra)
        b1 = extra["optim"].pop("beta1")
        b2 = extra["optim"].get("betas", LOSSES.get(loss).defaults.get("optim", {}).get("betas", [0.5, 0.999]))[1]
        extra["optim"]["betas"] = [b1, b2]
    return extra


def _set_path(d: Dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def config_id(spec: RunSpec) -> str:
    ident = spec.identity()
    ident.pop("seed")
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


# ---- loading and validation ---------------------------------------------------------------
def _err(where: str, key: str, msg: str) -> SuiteError:
    return SuiteError(f"{where}: {key}: {msg}")


def _unknown(where, key_prefix, keys, valid):
    for k in keys:
        if k not in valid:
            close = difflib.get_close_matches(str(k), sorted(valid), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise _err(where, f"{key_prefix}{k}", f"unknown key.{hint} Valid keys: {', '.join(sorted(valid))}")


def _check_space(where, key, space):
    if not isinstance(space, dict):
        raise _err(where, key, "expected a mapping of setting -> distribution")
    for path, dist in space.items():
        k = f"{key}.{path}"
        if not (isinstance(dist, dict) and len(dist) == 1):
            raise _err(where, k, f"expected one of {sorted(DISTRIBUTIONS)} with its arguments, got {dist!r}")
        (kind, arg), = dist.items()
        if kind not in DISTRIBUTIONS:
            close = difflib.get_close_matches(kind, sorted(DISTRIBUTIONS), n=1)
            raise _err(where, k, f"unknown distribution {kind!r}." + (f" Did you mean {close[0]!r}?" if close else "")
                       + f" Valid: {', '.join(sorted(DISTRIBUTIONS))}")
        if kind == "choice":
            if not isinstance(arg, list) or not arg:
                raise _err(where, k, "choice needs a non-empty list")
            continue
        if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, (int, float)) for a in arg)):
            raise _err(where, k, f"{kind} needs [low, high], got {arg!r}")
        lo, hi = arg
        if not lo < hi:
            raise _err(where, k, f"{kind} range is empty or reversed: low {lo} must be < high {hi}")
        if kind == "log_uniform" and lo <= 0:
            raise _err(where, k, f"log_uniform needs low > 0, got {lo}")


def _posint(where, key, v):
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise _err(where, key, f"expected a positive integer, got {v!r}")


def load_suite(path) -> Suite:
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise SuiteError(f"{where}: no such suite file (ganbench list suites shows the shipped ones)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SuiteError(f"{where}: not valid YAML: {e}") from None
    return suite_from_dict(raw, path)


def suite_from_dict(raw: Dict[str, Any], path: Optional[Path] = None) -> Suite:
    where = str(path) if path else "suite"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: expected a mapping at the top level")
    _unknown(where, "", raw.keys(), TOP_KEYS)
    imports = raw.get("imports") or []
    if not (isinstance(imports, list) and all(isinstance(m, str) and m.strip() for m in imports)):
        raise _err(where, "imports", f"expected a list of module names, got {imports!r}")
    load_plugins(imports, where=f"{where}: imports")  # before names are checked: they may register some
    for req in ("name", "version", "grid"):
        if req not in raw:
            raise _err(where, req, "required key is missing")
    name = raw["name"]
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ "):
        raise _err(where, "name", f"expected a plain name (no spaces or slashes), got {name!r}")
    _posint(where, "version", raw["version"])
    grid = raw["grid"]
    if not isinstance(grid, dict):
        raise _err(where, "grid", "expected a mapping of axis -> list of values")
    for req in ("loss", "dataset", "seed"):
        if req not in grid:
            raise _err(where, f"grid.{req}", "required axis is missing")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise _err(where, f"grid.{k}", f"expected a non-empty list, got {v!r}")
    for loss in grid["loss"]:
        if loss not in LOSSES:
            raise _err(where, "grid.loss", LOSSES.unknown_message(loss))
    for ds in grid["dataset"]:
        if ds not in DATASETS:
            raise _err(where, "grid.dataset", DATASETS.unknown_message(ds))
    for seed in grid["seed"]:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise _err(where, "grid.seed", f"seeds must be non-negative integers, got {seed!r}")
    for loss in grid["loss"]:
        caps = LOSSES.get(loss).caps
        for ds in grid["dataset"]:
            if caps.needs_labels and not DATASETS.get(ds).labelled:
                raise _err(where, "grid", f"objective {loss!r} needs class labels, but dataset {ds!r} is unlabelled")
    for section in ("fixed", "datasets", "overrides", "eval", "resources"):
        if section in raw and not isinstance(raw[section], dict):
            raise _err(where, section, "expected a mapping")
    for ds in raw.get("datasets", {}) or {}:
        if ds not in grid["dataset"]:
            raise _err(where, f"datasets.{ds}", f"not a dataset of this suite's grid ({', '.join(grid['dataset'])})")
    for loss in raw.get("overrides", {}) or {}:
        if loss not in grid["loss"]:
            msg = LOSSES.unknown_message(loss) if loss not in LOSSES else "not an objective of this suite's grid"
            raise _err(where, f"overrides.{loss}", msg)
    res = raw.get("resources", {"cpu": 1, "gpu": 0}) or {}
    _unknown(where, "resources.", res.keys(), {"cpu", "gpu"})
    for k, v in res.items():
        if not isinstance(v, (int, float)) or v < 0:
            raise _err(where, f"resources.{k}", f"expected a number >= 0, got {v!r}")
    if res.get("cpu", 1) <= 0 and res.get("gpu", 0) <= 0:
        raise _err(where, "resources", "a trial needs some cpu or gpu")
    pack = raw.get("pack", 1)
    _posint(where, "pack", pack)
    search = raw.get("search")
    if search is not None:
        if not isinstance(search, dict):
            raise _err(where, "search", "expected a mapping")
        _unknown(where, "search.", search.keys(), SEARCH_KEYS)
        _posint(where, "search.samples", search.get("samples"))
        _posint(where, "search.final_seeds", search.get("final_seeds", 1))
        search.setdefault("final_seeds", 1)
        search.setdefault("metric", "frechet_inception_distance")
        _check_space(where, "search.space", search.get("space", {}))
        for loss, sp in (search.get("space_per_loss") or {}).items():
            if loss not in LOSSES:
                raise _err(where, f"search.space_per_loss.{loss}", LOSSES.unknown_message(loss))
            _check_space(where, f"search.space_per_loss.{loss}", sp)
        if search.get("narrow"):
            nar = search["narrow"]
            if not isinstance(nar, dict):
                raise _err(where, "search.narrow", "expected a mapping")
            _unknown(where, "search.narrow.", nar.keys(), NARROW_KEYS)
            _posint(where, "search.narrow.samples", nar.get("samples"))
            _check_space(where, "search.narrow.space", nar.get("space", {}))
        if search.get("halving") is not None:
            _check_halving(where, search)
    allow = raw.get("allow_unequal_budgets", False)
    if not isinstance(allow, bool):
        raise _err(where, "allow_unequal_budgets", f"expected true or false, got {allow!r}")
    suite = Suite(name=name, version=raw["version"], path=path, grid=grid, fixed=raw.get("fixed") or {},
                  datasets=raw.get("datasets") or {}, overrides=raw.get("overrides") or {},
                  eval=raw.get("eval") or {}, resources={"cpu": res.get("cpu", 1), "gpu": res.get("gpu", 0)},
                  search=search, pack=pack, imports=list(imports), description=raw.get("description", ""), raw=raw,
                  allow_unequal_budgets=allow)
    # resolve every configuration now: bad settings fail before anything runs
    try:
        if search is None:
            suite.plan_grid()
        else:
            suite.plan_search("wide")[:1]
            if search.get("narrow"):
                suite.plan_search("narrow")
        check_budgets(suite)
    except ConfigError as e:
        raise SuiteError(str(e)) from None
    except ValueError as e:
        raise SuiteError(f"{where}: {e}") from None
    return suite


def _check_halving(where: str, search: Dict[str, Any]) -> None:
    h = search["halving"]
    if not isinstance(h, dict):
        raise _err(where, "search.halving", "expected a mapping with rungs (and eta)")
    _unknown(where, "search.halving.", h.keys(), HALVING_KEYS)
    if "rungs" not in h:
        raise _err(where, "search.halving.rungs", "required key is missing: a list of D steps per rung, "
                                                   "or the number of rungs")
    h.setdefault("eta", 3)
    eta = h["eta"]
    if not isinstance(eta, int) or isinstance(eta, bool) or eta < 2:
        raise _err(where, "search.halving.eta", f"expected an integer >= 2, got {eta!r}")
    rungs = h["rungs"]
    if isinstance(rungs, list):
        for x in rungs:
            _posint(where, "search.halving.rungs", x)
        if len(rungs) < 2 or any(b <= a for a, b in zip(rungs, rungs[1:])):
            raise _err(where, "search.halving.rungs", f"expected at least two strictly increasing D-step "
                                                      f"budgets, got {rungs!r}")
    else:
        _posint(where, "search.halving.rungs", rungs)
        if rungs < 2:
            raise _err(where, "search.halving.rungs", f"successive halving needs at least 2 rungs, got {rungs}")
    try:
        from .metrics.catalogue import metric
    except ImportError:  # pragma: no cover - older layout
        metric = None
    if metric is not None:
        try:
            metric(search["metric"])
        except GanbenchError as e:
            raise _err(where, "search.metric", str(e)) from None


# ---- equal budgets ------------------------------------------------------------------------
# Aliases a search sample writes through: optim.beta1 sets optim.betas; optim.lr clears lr_g / lr_d.
_ALIASES = {"optim.beta1": "optim.betas", "optim.lr_g": "optim.lr", "optim.lr_d": "optim.lr"}


def _leaf_paths(layer: Dict[str, Any], prefix: str = "") -> List[str]:
    out = []
    for k, v in (layer or {}).items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _leaf_paths(v, path + ".")
        else:
            out.append(path)
    return out


def _overlap(a: str, b: str) -> bool:
    a, b = _ALIASES.get(a, a), _ALIASES.get(b, b)
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def budget_problems(suite: Suite) -> List[tuple]:
    """Why the objectives of ``suite`` would get different budgets: (key, message) pairs, empty
    when every objective gets the same configurations x D steps over the same space."""
    problems: List[tuple] = []
    axes = [k for k in suite.grid if k != "loss"]
    for loss, layer in suite.overrides.items():
        for path in _leaf_paths(layer):
            for axis in axes:
                if _overlap(path, axis):
                    problems.append((f"overrides.{loss}.{path}",
                                     f"sets the grid axis {axis!r} for {loss!r} alone, so its runs do not "
                                     f"cross the axis like the other objectives' runs"))
    s = suite.search
    if s:
        sampled = {p: "search.space" for p in s.get("space", {})}
        if s.get("narrow"):
            sampled.update({p: "search.narrow.space" for p in s["narrow"].get("space", {})})
        for loss, layer in suite.overrides.items():
            for path in _leaf_paths(layer):
                for sp, section in sampled.items():
                    if _overlap(path, sp):
                        problems.append((f"overrides.{loss}.{path}",
                                         f"{loss!r} alone sets {path!r}, which the search samples ({section}."
                                         f"{sp}): its configurations would differ from the other objectives'"))
        for loss, space in (s.get("space_per_loss") or {}).items():
            for path in space:
                if not path.startswith("loss_params."):
                    problems.append((f"search.space_per_loss.{loss}.{path}",
                                     f"samples {path!r} for {loss!r} alone; per-objective extras are for the "
                                     f"objective's own parameters (loss_params.*), every objective has {path!r}"))
        for section, space in (("search.space", s.get("space", {})),
                               ("search.narrow.space", (s.get("narrow") or {}).get("space", {}))):
            if "steps" in space:
                problems.append((f"{section}.steps", "the search samples the D-step budget: each objective's "
                                                     "configurations would draw different budgets"))
    # resolved D steps per (dataset, other axes) must agree across objectives
    if s:
        specs = []
        seed0 = suite.grid["seed"][0]
        for loss, dataset, ax in suite.axis_combos():
            specs.append(suite.make_spec(loss, dataset, {**ax, "seed": seed0}))
    else:
        specs = [p.spec for p in suite.plan_grid()]
    groups: Dict[tuple, Dict[str, set]] = {}
    for spec in specs:
        loss, ds, ax = suite.cell_of(spec)
        groups.setdefault((ds, ax), {}).setdefault(loss, set()).add(spec.steps)
    for (ds, ax), by_loss in groups.items():
        values = {v for vs in by_loss.values() for v in vs}
        if len(values) > 1:
            odd = [loss for loss in by_loss if loss in suite.overrides and "steps" in suite.overrides[loss]]
            key = f"overrides.{odd[0]}.steps" if odd else "steps"
            detail = ", ".join(f"{loss}: {'/'.join(str(v) for v in sorted(vs))}" for loss, vs in by_loss.items())
            problems.append((key, f"objectives train different numbers of D steps on {ds!r}"
                                  f"{'' if ax == '{}' else ' ' + ax} ({detail})"))
    if suite.halving and isinstance(suite.halving["rungs"], int):
        for spec in specs:
            st = suite.rung_steps(spec.steps)
            if any(b <= a for a, b in zip(st, st[1:])):
                problems.append(("search.halving.rungs", f"{spec.steps} D steps on {spec.dataset!r} are too few "
                                                          f"for {len(st)} rungs with eta {suite.halving['eta']} "
                                                          f"(rung budgets {st})"))
                break
    return problems


def check_budgets(suite: Suite) -> None:
    """Refuse a suite whose objectives get different budgets (SuiteError naming the file and the
    key) unless it sets ``allow_unequal_budgets: true``; then the reasons are kept in
    ``suite.unequal_budgets`` (and written to results/<suite>/budget.json)."""
    problems = budget_problems(suite)
    hard = [p for p in problems if p[0] == "search.halving.rungs"]
    if hard:
        raise _err(suite.where, *hard[0])
    if not problems:
        suite.unequal_budgets = None
        return
    if suite.allow_unequal_budgets:
        suite.unequal_budgets = "; ".join(f"{k}: {m}" for k, m in problems)
        return
    key, msg = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise _err(suite.where, key, f"unequal budgets: {msg}{more}. Every objective must get the same budget "
                                 f"(configurations x D steps) over the same space; set "
                                 f"allow_unequal_budgets: true at the top level to run it anyway")


def list_suites(folder: Path) -> List[Dict[str, Any]]:
    rows = []
    for p in sorted(Path(folder).glob("*.yaml")):
        try:
            s = load_suite(p)
            rows.append({"file": str(p), "name": s.name, "version": s.version, "runs": s.count(),
                         "description": s.description})
        except GanbenchError as e:
            rows.append({"file": str(p), "name": "INVALID", "version": None, "runs": 0, "description": str(e)})
    return rows
