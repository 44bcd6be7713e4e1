"""Suite commands of the CLI: run, collect, status, report, merge. ``bench.cli`` adds them to its parser
(this module never imports ``bench.cli``)."""
from __future__ import annotations
from .errors import CLIError

import json
import sys
import time
from pathlib import Path


def _suite_results_dir(arg: str, results: str) -> Path:
    """SUITE may be a suite file or a suite name."""
    p = Path(arg)
    if p.suffix in (".yaml", ".yml") and p.exists():
        from .suite import load_suite

        return Path(results) / load_suite(p).name
    d = Path(results) / arg
    if not d.is_dir():
        known = sorted(x.name for x in Path(results).glob("*") if x.is_dir()) if Path(results).is_dir() else []
        raise CLIError(f"no results for suite {arg!r} under {results}/ (suites with results: {', '.join(known) or 'none'})")
    return d


def cmd_run(a) -> int:
    from .runner import run_suite
    from .suite import load_suite

    suite = load_suite(a.suite)
    if a.report_every < 0:
        raise CLIError(f"--report-every {a.report_every}: give seconds >= 0 (0: no report until the suite ends)")
    refresh = None
    if not a.no_report and a.report_every > 0:
        refresh = ReportRefresher(Path(a.results) / suite.name, Path(a.reports) / suite.name, a.report_every,
                                  compare=a.compare, data_root=a.data_root)
    out = run_suite(suite, Path(a.results), executor=a.executor, address=a.address, max_concurrent=a.max_concurrent,
                    force=a.force, storage=a.storage, device=a.device, data_root=a.data_root,
                    progress=not a.no_progress, wait=a.wait, on_finish=refresh)
    print(f"results table: {out['results']}/runs.parquet ({out['runs']} runs)")
    if not a.no_report:
        _report(Path(out["results"]), Path(a.reports), a.compare, a.data_root, a.device)
    return 0


def _report(sdir: Path, reports: Path, compare, data_root=None, device=None) -> None:
    from .report import write_report

    paths = write_report(sdir, reports / sdir.name, compare=compare, data_root=data_root, device=device or "cpu")
    print(f"report: {paths['html']}\nLaTeX tables: {paths['latex']}\nMarkdown tables: {paths['markdown']}")


class ReportRefresher:
    """The live report of a running suite, re-rendered by its driver as runs finish, at most once
    every ``interval`` seconds: from the run records in memory, like ``ganbench report`` (nothing
    written under results/), with how many runs are pending. A report that fails to render is a
    warning on stderr, never a failure of the suite. ``clock`` is for tests."""

    def __init__(self, sdir: Path, out: Path, interval: float, compare=None, data_root=None, clock=time.monotonic,
                 log=lambda m: print(m, file=sys.stderr, flush=True)):
        self.sdir, self.out, self.interval, self.compare, self.data_root = sdir, out, interval, compare, data_root
        self.clock, self.log = clock, log
        self.last = None  # clock time of the last render (None: none yet)
        self.notes = []  # the pending note of each render, in order

    def __call__(self, prog=None) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return
        self.last = now
        try:
            from .report import write_report

            note = _pending_note(self.sdir)
            write_report(self.sdir, self.out, compare=self.compare, data_root=self.data_root, from_records=True,
                         pending_note=note)
        except Exception as e:  # the suite goes on; the final report is written when it ends
            self.log(f"live report not refreshed ({type(e).__name__}: {e})")
            return
        self.notes.append(note)
        self.log(f"live report: {self.out / 'index.html'}" + (f" ({note})" if note else ""))


def cmd_collect(a) -> int:
    from .collect import collect

    sdir = _suite_results_dir(a.suite, a.results)
    df = collect(sdir, log=lambda m: print(m, file=sys.stderr))
    print(f"{sdir}/runs.parquet: {len(df)} runs")
    return 0


def cmd_status(a) -> int:
    from .collect import collect, status_summary

    sdir = _suite_results_dir(a.suite, a.results)
    collect(sdir, log=lambda m: print(m, file=sys.stderr))
    s = status_summary(sdir)
    if a.json:
        print(json.dumps(s, indent=1, default=str))
        return 0
    print(f"suite {s['suite']}: {s['runs']} runs — " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_status"].items())))
    for p in s["problems"]:
        print(f"  {p['status']:8s} {p['run_id']} {p['loss']}/{p['dataset']}/seed {p['seed']}: {p['reason']}")
    return 0


def cmd_report(a) -> int:
    """The report from the run records as they are now, read in memory: nothing is written under
    results/ (the driver, if one runs, owns runs.parquet), so it works on a running or an
    interrupted suite and says how many runs are pending."""
    sdir = _suite_results_dir(a.suite, a.results)
    from .report import write_report

    note = _pending_note(sdir)
    paths = write_report(sdir, Path(a.reports) / sdir.name, compare=a.compare, data_root=a.data_root,
                         from_records=True, pending_note=note)
    if note:
        print(note)
    print(f"report: {paths['html']}\nLaTeX tables: {paths['latex']}\nMarkdown tables: {paths['markdown']}")
    if a.vs:
        _vs(sdir, a.vs, Path(a.results), Path(a.reports) / sdir.name)
    return 0


def _vs(sdir: Path, other: str, results: Path, out: Path) -> None:
    from .collect import read_results
    from .report.vs import compare_suites, write_vs

    odir = Path(other) if (Path(other) / "runs").is_dir() else _suite_results_dir(other, str(results))
    if odir.resolve() == sdir.resolve():
        raise CLIError(f"--vs {other}: that is the suite being reported; name another suite's results")
    quiet = lambda m: None  # noqa: E731
    cells, note = compare_suites(read_results(sdir, log=quiet)[0], read_results(odir, log=quiet)[0])
    if cells.empty:
        raise CLIError(f"--vs {other}: the two suites share no metric and (objective, dataset) cell")
    paths = write_vs(out, sdir.name, odir.name if odir.name != sdir.name else f"{odir.parent.name}-{odir.name}",
                     cells, note)
    if note:
        print(note)
    print(f"comparison: {paths['html']}\n            {paths['markdown']}")


def _pending_note(sdir: Path) -> str:
    """'N of M runs finished, K pending (a driver is running | interrupted)', or '' when all are."""
    from .executors import record_state
    from .lock import driver_running

    runs_root = sdir / "runs"
    ids = sorted(p.name for p in runs_root.glob("*") if p.is_dir())
    if not ids:
        raise CLIError(f"{sdir}: no run has written a record yet; wait for the suite's first checkpoint")
    states = [record_state(sdir, rid, lambda m: None) for rid in ids]
    finished = sum(s in ("done", "diverged", "stopped", "failed") for s in states)
    total = len(ids)
    try:
        from .suite import load_suite

        total = max(total, load_suite(sdir / "suite.yaml").count())
    except Exception:  # a suite file that no longer loads: count the run folders only
        pass
    if finished >= total:
        return ""
    who = driver_running(sdir)
    state = ("a driver is running it: " + (f"pid {who.get('pid')} on {who.get('host')}" if who else "unknown")
             if who is not None else "interrupted: `ganbench run` resumes it")
    return f"{finished} of {total} runs finished, {total - finished} pending ({state})"


def cmd_merge(a) -> int:
    from .merge import merge_results, summary

    log = merge_results(a.out, a.dirs, prefer=a.prefer or (), log=lambda m: print(m, file=sys.stderr))
    print(summary(log, Path(a.out).resolve()))
    return 0


def add_commands(sub) -> None:
    r = sub.add_parser("run", help="run a suite (skips finished runs, resumes unfinished ones) and write its report")
    r.add_argument("suite", help="suite file, e.g. suites/quick.yaml")
    r.add_argument("--executor", choices=["ray", "serial"], default="ray")
    r.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    r.add_argument("--storage", help="Ray Tune storage for trial checkpoints: a folder the cluster's nodes "
                                     "share or a URI (s3://, gs://, file://); default results/<suite>/tune")
    r.add_argument("--max-concurrent", type=int, help="at most N trials at once (default: as resources allow)")
    r.add_argument("--force", action="store_true", help="redo runs that already finished")
    r.add_argument("--wait", action="store_true",
                   help="if another driver is running this suite, wait for it to end instead of refusing")
    r.add_argument("--device", help="override the device of every run (cpu, cuda)")
    r.add_argument("--data-root", help="folder with real datasets (default $GANBENCH_DATA)")
    r.add_argument("--results", default="results")
    r.add_argument("--reports", default="reports")
    r.add_argument("--compare", help="published table to put beside ours (lucic2018, pacgan2018)")
    r.add_argument("--no-report", action="store_true")
    r.add_argument("--report-every", type=float, default=300.0, metavar="SECONDS",
                   help="while the suite runs, re-render its live report as runs finish, at most once every "
                        "SECONDS (default 300; 0: only when the suite ends)")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(fn=cmd_run)

    c = sub.add_parser("collect", help="merge a suite's records into results/<suite>/runs.parquet")
    c.add_argument("suite", help="suite name or file")
    c.add_argument("--results", default="results")
    c.set_defaults(fn=cmd_collect)

    s = sub.add_parser("status", help="counts by status and failures with reasons")
    s.add_argument("suite", help="suite name or file")
    s.add_argument("--results", default="results")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_status)

    rp = sub.add_parser("report", help="write reports/<suite>/index.html and tables.tex")
    rp.add_argument("suite", help="suite name or file")
    rp.add_argument("--results", default="results")
    rp.add_argument("--reports", default="reports")
    rp.add_argument("--compare", help="published table to put beside ours (lucic2018, pacgan2018)")
    rp.add_argument("--data-root", help="folder with real datasets, for the real-data row (default $GANBENCH_DATA)")
    rp.add_argument("--vs", metavar="OTHER", help="also compare with another suite's results, cell by cell "
                                                 "(a suite name under --results, or a results folder)")
    rp.set_defaults(fn=cmd_report)

    m = sub.add_parser("merge", help="merge one suite's results folders from several machines into OUT",
                       description="Merge results folders (results/<suite>/) of one suite, made on several "
                                   "machines or clusters, into OUT: runs deduplicated by run id, a finished copy "
                                   "taken over an unfinished one, copies that disagree refused unless --prefer "
                                   "says whose wins; OUT/merge.json logs every choice; OUT is then collected.")
    m.add_argument("out", metavar="OUT", help="the merged results folder (new, or an earlier merge's output)")
    m.add_argument("dirs", metavar="DIR", nargs="+", help="results folders of the same suite (never modified)")
    m.add_argument("--prefer", action="append", metavar="DIR",
                   help="for runs whose finished copies disagree, keep DIR's copy (one of the DIRs; repeat to "
                        "give an order)")
    m.set_defaults(fn=cmd_merge)
