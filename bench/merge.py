"""``ganbench merge OUT DIR [DIR ...]``: one suite's results folders, made on several machines or
clusters, merged into one results folder OUT that ``collect``, ``status`` and ``report`` read.

What is checked before anything is written (each refusal is a ``MergeError`` naming the folders):

- the same suite: every ``DIR/suite.yaml`` (and OUT's, when OUT holds an earlier merge) is loaded
  and their normalised content compared (name, version, grid, fixed, datasets, overrides, eval,
  search with its defaults, pack, imports, allow_unequal_budgets; not ``description`` nor
  ``resources``, which say how a cluster schedules trials, not what a run computes), then their
  planned run ids; the first difference is named by its key path with both values;
- one training-semantics version (``config.semantics_version`` of every record);
- no conflicts: copies of one run id that are finished (``done``, ``diverged``, ``stopped``) but
  differ in ``status``, ``diverged_step``, ``collapsed``, ``counts`` or ``metrics`` (in
  ``metrics.provenance`` local file locations, timings and package versions -- keys ending in
  ``_path``, ``_file``, ``_seconds``, ``_s``, ``_version`` -- are not compared; the weights' sha256
  is). Costs, environment and artifacts may differ. Conflicts are listed (run id,
  folders, differing fields) and refused unless ``--prefer DIR`` names whose copy wins.

How each run id's copy is chosen: a finished copy over an unfinished one (``running``, ``failed``,
corrupt); among agreeing finished copies the first by preference (``--prefer`` folders, then the
folders in the order given, then OUT's own copy); among unfinished copies the one that trained
furthest (``counts.d_steps``). Each chosen run folder (record and artifacts, without Ray Tune's
internals such as ``resume.json``, a pointer into one cluster's storage) is copied to a temporary
folder in OUT and renamed into place, so a run folder is either the old or the new copy. Sources
are only read. OUT is new, empty, or an earlier merge's output (it has ``merge.json``); merging the
same folders again changes nothing. ``OUT/merge.json`` logs the sources, counts, where each run came
from, duplicates, conflicts and how each was resolved, and finished copies taken over unfinished
ones. Then OUT is collected into ``runs.parquet`` (and, for a grid suite of the current semantics,
``budget.json`` is written)."""
from __future__ import annotations

import fnmatch
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import TRAINING_SEMANTICS_VERSION
from .errors import CorruptRecord, MergeError
from .results import atomic_write_bytes, atomic_write_json, read_record
from .runner import DONE_STATES as FINISHED_STATES, write_budget  # done, diverged, stopped: results a re-run keeps

MERGE_LOG = "merge.json"
TMP_DIR = ".merge-tmp"  # in OUT, outside runs/ (collect never sees a half-copied run)
# Left behind: Ray Tune's pointers and trial files (meaningful on one cluster only), temporary
# files of interrupted atomic writes, a driver's lock note.
SKIP_PATTERNS = ("resume.json", "params.json", "params.pkl", "progress.csv", "result.json", ".tune_metadata",
                 ".is_checkpoint", ".metadata.pkl", "events.out.tfevents.*", "checkpoint_[0-9]*", ".*.tmp",
                 ".driver.lock")
COMPARED = ("status", "diverged_step", "collapsed", "counts", "metrics")
# keys of metrics.provenance that say where or how fast, not what was scored: local file locations,
# timings, package versions (a version that changes scores shows in the scores)
PROVENANCE_NOT_COMPARED = ("_path", "_file", "_seconds", "_s", "_version")
MAX_LISTED = 50  # conflicts listed in the error message (merge.json is not written when refused)


# ---- suites ---------------------------------------------------------------------------------
def normalised_suite(suite) -> Dict[str, Any]:
    """What a suite means, as plain JSON: defaults filled in, ``description`` and ``resources`` left out."""
    d = {"name": suite.name, "version": suite.version, "grid": suite.grid, "fixed": suite.fixed,
         "datasets": suite.datasets, "overrides": suite.overrides, "eval": suite.eval, "search": suite.search,
         "pack": suite.pack, "imports": suite.imports, "allow_unequal_budgets": suite.allow_unequal_budgets}
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def planned_ids(suite) -> List[str]:
    """The run ids a suite's definition fixes: its grid, or its search phases' first rung (later
    rungs and the final phase depend on results)."""
    if not suite.search:
        return [p.run_id for p in suite.plan_grid()]
    rung = 0 if suite.halving else None
    ids = [p.run_id for p in suite.plan_search("wide", rung=rung)]
    if suite.search.get("narrow"):
        ids += [p.run_id for p in suite.plan_search("narrow", rung=rung)]
    return ids


def first_difference(a: Any, b: Any, path: str = "") -> Optional[Tuple[str, Any, Any]]:
    """(key path, value in a, value in b) of the first difference (keys in sorted order), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                return sub, a.get(k, "<absent>"), b.get(k, "<absent>")
            d = first_difference(a[k], b[k], sub)
            if d:
                return d
        return None
    return None if _same(a, b) else (path or "<top>", a, b)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                              and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _load_suite(folder: Path):
    from .suite import load_suite

    p = folder / "suite.yaml"
    if not p.is_file():
        raise MergeError(f"{folder}: no suite.yaml: not a suite results folder (results/<suite>/ written by "
                         f"ganbench run)")
    return load_suite(p)


def check_same_suite(folders: Sequence[Path], suites: Sequence[Any]) -> None:
    ref, ref_dir = suites[0], folders[0]
    ref_norm, ref_ids = normalised_suite(ref), None
    for folder, suite in zip(folders[1:], suites[1:]):
        d = first_difference(ref_norm, normalised_suite(suite))
        if d:
            key, va, vb = d
            raise MergeError(f"{ref_dir} and {folder} hold different suites: {key}: {json.dumps(va, default=str)} "
                             f"in {ref_dir}/suite.yaml vs {json.dumps(vb, default=str)} in {folder}/suite.yaml; "
                             f"only results of one suite definition can be merged")
        ref_ids = ref_ids if ref_ids is not None else planned_ids(ref)
        ids = planned_ids(suite)
        for mine, theirs, where in ((ref_ids, ids, ref_dir), (ids, ref_ids, folder)):
            extra = [i for i in mine if i not in set(theirs)]
            if extra:
                raise MergeError(f"{ref_dir} and {folder} hold suites that plan different runs: run {extra[0]} "
                                 f"is planned only in {where}/suite.yaml; only results of one suite definition "
                                 f"can be merged")


# ---- records --------------------------------------------------------------------------------
class Copy:
    """One folder's copy of a run: its record (None when corrupt) and status."""

    def __init__(self, folder: Path, run_dir: Path, rec: Optional[Dict[str, Any]], label: str):
        self.folder, self.run_dir, self.rec, self.label = folder, run_dir, rec, label
        self.status = rec["status"] if rec else "corrupt"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATES

    @property
    def d_steps(self) -> int:
        try:
            return int(((self.rec or {}).get("counts") or {}).get("d_steps") or 0)
        except (TypeError, ValueError):
            return 0


def read_copies(folder: Path, label: str, log) -> Dict[str, Copy]:
    out: Dict[str, Copy] = {}
    runs = folder / "runs"
    for d in sorted(runs.iterdir()) if runs.is_dir() else []:
        if not d.is_dir() or d.name.startswith("."):
            continue
        try:
            rec = read_record(d)
        except CorruptRecord as e:
            log(f"warning: {e}; counted as an unfinished copy")
            rec = None
        else:
            if rec is None:
                continue  # a folder without a record (a run that never started) carries nothing
        out[d.name] = Copy(folder, d, rec, label)
    return out


def semantics_version(rec: Dict[str, Any]) -> Any:
    return (rec.get("config") or {}).get("semantics_version")


def check_one_semantics(copies: Sequence[Copy]) -> Any:
    seen: Dict[Any, Copy] = {}
    for c in copies:
        if c.rec is None:
            continue
        v = semantics_version(c.rec)
        seen.setdefault(v, c)
        if len(seen) > 1:
            (va, ca), (vb, cb) = list(seen.items())[:2]
            name = lambda v: "unknown (no config.semantics_version)" if v is None else v  # noqa: E731
            raise MergeError(f"results of different training-semantics versions cannot be merged: "
                             f"{ca.run_dir} has version {name(va)}, {cb.run_dir} has version {name(vb)} "
                             f"(runs of one version compute other numbers than the other's)")
    return next(iter(seen), None)


def _comparable(rec: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: rec.get(k) for k in COMPARED}
    m = dict(out.get("metrics") or {})
    prov = m.get("provenance")
    if isinstance(prov, dict):
        m["provenance"] = {k: v for k, v in prov.items() if not k.endswith(PROVENANCE_NOT_COMPARED)}
    out["metrics"] = m
    return json.loads(json.dumps(out, default=str))


def _leaf_diffs(a: Any, b: Any, path: str, out: List[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _leaf_diffs(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}" if path else str(k), out)
    elif not _same(a, b):
        out.append(path)


def _get(d: Any, path: str) -> Any:
    for p in path.split("."):
        d = d.get(p, "<absent>") if isinstance(d, dict) else "<absent>"
    return d


def differences(copies: Sequence[Copy]) -> List[Dict[str, Any]]:
    """The compared fields on which finished copies disagree, each with every copy's value."""
    comps = [_comparable(c.rec) for c in copies]
    paths: List[str] = []
    for other in comps[1:]:
        found: List[str] = []
        _leaf_diffs(comps[0], other, "", found)
        paths += [p for p in found if p not in paths]
    return [{"field": p, "values": {c.label: _get(comp, p) for c, comp in zip(copies, comps)}} for p in paths]


def _describe_run(c: Copy) -> str:
    k = (c.rec or {}).get("keys") or {}
    return f"{k.get('loss')}/{k.get('dataset')}/seed {k.get('seed')}" if k else "?"


# ---- the plan -------------------------------------------------------------------------------
def choose(run_id: str, copies: List[Copy], order: List[str]) -> Dict[str, Any]:
    """Which copy of ``run_id`` to keep. ``order``: folder labels by preference (--prefer folders,
    the sources in the order given, OUT last)."""
    rank = {label: i for i, label in enumerate(order)}
    copies = sorted(copies, key=lambda c: rank[c.label])
    finished = [c for c in copies if c.finished]
    out: Dict[str, Any] = {"run_id": run_id, "copies": copies}
    if finished:
        diffs = differences(finished) if len(finished) > 1 else []
        out["chosen"] = finished[0]
        out["differences"] = diffs
        unfinished = [c for c in copies if not c.finished]
        if unfinished:
            out["over_unfinished"] = unfinished
    else:  # nothing finished: the copy that got furthest (the next `ganbench run` resumes or redoes it)
        out["chosen"] = sorted(copies, key=lambda c: (-c.d_steps if c.rec else 1, rank[c.label]))[0]
        out["differences"] = []
    return out


def _conflict_text(run_id: str, first: Copy, diffs: List[Dict[str, Any]]) -> str:
    shown = [f"{d['field']}: " + " vs ".join(f"{json.dumps(v, default=str)} in {label}"
                                          for label, v in d["values"].items()) for d in diffs[:6]]
    more = f"; and {len(diffs) - 6} more fields" if len(diffs) > 6 else ""
    return f"  {run_id} ({_describe_run(first)}): " + "; ".join(shown) + more


def _same_tree(src: Path, dst: Path) -> bool:
    a, b = _files(src), _files(dst)
    if a.keys() != b.keys():
        return False
    import filecmp

    for rel, st in a.items():
        sb = b[rel]
        if st.st_size != sb.st_size:
            return False
        if st.st_mtime_ns != sb.st_mtime_ns and not filecmp.cmp(src / rel, dst / rel, shallow=False):
            return False
    return True


def _skipped(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in SKIP_PATTERNS)


def _files(root: Path) -> Dict[str, os.stat_result]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not _skipped(d)]
        for f in filenames:
            if not _skipped(f):
                p = Path(dirpath) / f
                out[str(p.relative_to(root))] = p.stat()
    return out


def copy_run(src: Path, out: Path, run_id: str) -> bool:
    """Put a copy of the run folder ``src`` at OUT/runs/<run_id>: copied into OUT/.merge-tmp, then
    renamed into place. False (nothing done) when the same files are already there."""
    dst = out / "runs" / run_id
    if dst.is_dir() and _same_tree(src, dst):
        return False
    tmp_root = out / TMP_DIR
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp, old = tmp_root / run_id, tmp_root / f"{run_id}.old"
    for p in (tmp, old):
        shutil.rmtree(p, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=lambda d, names: [n for n in names if _skipped(n)], copy_function=shutil.copy2)
    for f in tmp.rglob("*"):  # on disk before the rename makes the copy visible
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        os.rename(dst, old)
    os.rename(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
    return True


def _check_paths(out: Path, sources: List[Path]) -> None:
    if not sources:
        raise MergeError("name at least one results folder to merge")
    seen = set()
    for s in sources:
        if not s.is_dir():
            raise MergeError(f"{s}: no such results folder")
        if s in seen:
            raise MergeError(f"{s} is named twice")
        seen.add(s)
        if out == s or s in out.parents or out in s.parents:
            raise MergeError(f"OUT {out} is {'the same folder as' if out == s else 'nested with'} the source {s}: "
                             f"merge never writes into its sources; choose a new OUT folder")
    if out.exists() and not out.is_dir():
        raise MergeError(f"OUT {out} exists and is not a folder")
    if out.is_dir() and any(p.name not in (".driver.lock", TMP_DIR) for p in out.iterdir()) \
            and not (out / MERGE_LOG).is_file():
        raise MergeError(f"OUT {out} is a results folder not written by ganbench merge; merge into a new folder "
                         f"(name {out} as one of the sources to include its runs)")


@dataclass
class MergePlan:
    """What a merge will do, decided before anything is written."""

    out: Path
    sources: List[Path]
    prefer: List[Path]
    suite: Any
    version: Any  # the records' training-semantics version
    per_source: Dict[Path, Dict[str, Copy]]
    in_out: Dict[str, Copy]  # an earlier merge's runs in OUT
    choices: List[Dict[str, Any]] = field(default_factory=list)
    duplicates: List[Dict[str, Any]] = field(default_factory=list)
    conflicts: List[Dict[str, Any]] = field(default_factory=list)
    over_unfinished: List[Dict[str, Any]] = field(default_factory=list)
    unfinished: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def out_label(self) -> str:
        return f"{self.out} (already in OUT)"


def plan_merge(out, sources: Sequence, prefer: Sequence = (), log=print) -> MergePlan:
    """Check the folders and choose every run's copy (reads only; MergeError when they cannot be merged)."""
    out = Path(out).resolve()
    sources = [Path(s).resolve() for s in sources]
    prefer = [Path(p).resolve() for p in prefer or ()]
    _check_paths(out, sources)
    for p in prefer:
        if p not in sources:
            raise MergeError(f"--prefer {p}: not one of the folders being merged ({', '.join(map(str, sources))})")
    _warn_live_drivers(sources, log)
    suites = [_load_suite(s) for s in sources]
    earlier = (out / MERGE_LOG).is_file()
    if earlier and (out / "suite.yaml").is_file():
        check_same_suite(sources + [out], suites + [_load_suite(out)])
    else:
        check_same_suite(sources, suites)
    per_source = {s: read_copies(s, str(s), log) for s in sources}
    plan = MergePlan(out, sources, prefer, suites[0], None, per_source, {})
    plan.in_out = read_copies(out, plan.out_label, log) if earlier else {}
    plan.version = check_one_semantics([c for cs in list(per_source.values()) + [plan.in_out] for c in cs.values()])

    order = [str(p) for p in prefer] + [str(s) for s in sources if s not in prefer] + [plan.out_label]
    unresolved = []
    for rid in sorted(set().union(*[set(cs) for cs in per_source.values()])):
        ch = choose(rid, [cs[rid] for cs in list(per_source.values()) + [plan.in_out] if rid in cs], order)
        plan.choices.append(ch)
        finished = [c for c in ch["copies"] if c.finished]
        if ch["differences"]:
            pick = next((c for c in finished if c.folder in prefer), None)
            entry = {"run_id": rid, "run": _describe_run(finished[0]), "folders": [c.label for c in finished],
                     "differences": ch["differences"]}
            if pick is None:
                unresolved.append(_conflict_text(rid, finished[0], ch["differences"]))
            else:
                ch["chosen"] = pick
                entry.update(resolution=f"--prefer {pick.label}", chosen=pick.label)
            plan.conflicts.append(entry)
        elif len([c for c in finished if c.label != plan.out_label]) > 1:
            plan.duplicates.append({"run_id": rid, "folders": [c.label for c in finished if c.label != plan.out_label],
                                    "chosen": ch["chosen"].label})
        if ch.get("over_unfinished"):
            plan.over_unfinished.append({"run_id": rid, "chosen": ch["chosen"].label, "status": ch["chosen"].status,
                                         "instead_of": {c.label: c.status for c in ch["over_unfinished"]}})
        if not finished and len(ch["copies"]) > 1:
            plan.unfinished.append({"run_id": rid, "chosen": ch["chosen"].label,
                                    "copies": {c.label: {"status": c.status, "d_steps": c.d_steps}
                                               for c in ch["copies"]},
                                    "rule": "no finished copy: the one that trained furthest"})
    if unresolved:
        more = f"\n  ... and {len(unresolved) - MAX_LISTED} more" if len(unresolved) > MAX_LISTED else ""
        raise MergeError(f"{len(unresolved)} run(s) finished with different results in different folders "
                         f"(status or metrics differ); nothing was written. Name the folder whose copies win with "
                         f"--prefer DIR:\n" + "\n".join(unresolved[:MAX_LISTED]) + more)
    return plan


def merge_results(out, sources: Sequence, prefer: Sequence = (), log=print, collect_table: bool = True
                  ) -> Dict[str, Any]:
    """Merge the suite results folders ``sources`` into ``out`` (module docstring). Returns the
    merge log (also written to ``out/merge.json``)."""
    plan = plan_merge(out, sources, prefer, log)
    out, suite = plan.out, plan.suite
    if out.name != suite.name:
        log(f"note: {out} is named {out.name!r}, the suite {suite.name!r}: commands that take a suite name find it "
            f"as `{out.name}` with --results {out.parent}")
    from .lock import SuiteLock

    out.mkdir(parents=True, exist_ok=True)
    with SuiteLock(out, log=log):
        shutil.rmtree(out / TMP_DIR, ignore_errors=True)  # what an interrupted merge left
        if not (out / MERGE_LOG).is_file():  # marks OUT as a merge's output, so an interrupted merge can rerun
            atomic_write_json(out / MERGE_LOG, {"suite": suite.name, "sources": [str(s) for s in plan.sources],
                                                "in_progress": True})
        atomic_write_bytes(out / "suite.yaml", (plan.sources[0] / "suite.yaml").read_bytes())
        copied = 0
        for ch in plan.choices:
            c = ch["chosen"]
            if c.label != plan.out_label and copy_run(c.run_dir, out, ch["run_id"]):
                copied += 1
        shutil.rmtree(out / TMP_DIR, ignore_errors=True)
        merge_log = _merge_log(plan, copied, _write_budget(plan))
        atomic_write_json(out / MERGE_LOG, merge_log)
        if collect_table:
            from .collect import collect

            merge_log["table_runs"] = len(collect(out, log=log))
    return merge_log


def _write_budget(plan: MergePlan) -> str:
    """budget.json for a grid suite of this code's semantics (its planned runs are the grid)."""
    if plan.suite.search:
        return "not written: a search suite's plan depends on its results (ganbench run on OUT writes it)"
    if plan.version != TRAINING_SEMANTICS_VERSION:
        return f"not written: semantics version {plan.version} is not this code's ({TRAINING_SEMANTICS_VERSION})"
    write_budget(plan.out, plan.suite, plan.suite.plan_grid())
    return "written"


def _merge_log(plan: MergePlan, copied: int, budget: str) -> Dict[str, Any]:
    run_ids = [ch["run_id"] for ch in plan.choices]
    only_in_out = sorted(set(plan.in_out) - set(run_ids))

    def values(copies, section, key):
        return sorted({str((c.rec.get(section) or {}).get(key)) for c in copies.values() if c.rec})
    return {
        "suite": plan.suite.name, "suite_version": plan.suite.version, "semantics_version": plan.version,
        "out": str(plan.out),
        "sources": [{"path": str(s), "runs": len(cs), "finished": sum(c.finished for c in cs.values()),
                     "hosts": values(cs, "environment", "hostname"), "devices": values(cs, "cost", "device")}
                    for s, cs in plan.per_source.items()],
        "prefer": [str(p) for p in plan.prefer],
        "counts": {"runs": len(run_ids) + len(only_in_out), "from_sources": len(run_ids), "copied": copied,
                   "unchanged": len(run_ids) - copied, "duplicates": len(plan.duplicates),
                   "conflicts": len(plan.conflicts), "finished_over_unfinished": len(plan.over_unfinished),
                   "only_in_out": len(only_in_out)},
        "runs": {ch["run_id"]: {"from": ch["chosen"].label, "status": ch["chosen"].status} for ch in plan.choices},
        "duplicates": plan.duplicates,
        "conflicts": plan.conflicts,
        "finished_over_unfinished": plan.over_unfinished,
        "unfinished": plan.unfinished,
        "only_in_out": only_in_out,
        "budget": budget,
    }


def _warn_live_drivers(sources: List[Path], log) -> None:
    from .lock import holder

    for s in sources:
        h = holder(s)
        if h:
            log(f"note: {s} has a driver's lock note (pid {h.get('pid')} on host {h.get('host')}); if that driver "
                f"is still running, its unfinished runs may change after this merge")


def summary(log_: Dict[str, Any], out: Path) -> str:
    c = log_["counts"]
    return (f"merged {c['from_sources']} runs from {len(log_['sources'])} folders into {out}: {c['copied']} copied, "
            f"{c['unchanged']} already there; {c['duplicates']} in several folders with the same results, "
            f"{c['conflicts']} conflicts resolved by --prefer, {c['finished_over_unfinished']} finished copies "
            f"taken over unfinished ones" + (f", {c['only_in_out']} runs only in OUT kept" if c["only_in_out"] else "")
            + f"\nmerge log: {out / MERGE_LOG}; results table: {out / 'runs.parquet'} "
              f"({log_.get('table_runs', '?')} runs)")
