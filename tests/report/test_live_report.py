"""`ganbench report` on a suite that is still running or was interrupted: read from the records in
memory (nothing written under results/), with the number of pending runs and who drives it."""
import json

import yaml

from bench.cli import main
from bench.lock import SuiteLock
from bench.runner import run_suite
from bench.suite import load_suite

SUITE = {
    "name": "live", "version": 1,
    "grid": {"loss": ["ns"], "dataset": ["ring8"], "seed": [0, 1, 2]},
    "fixed": {"steps": 40, "batch_size": 32, "log_every": 10, "checkpoint_every": 20},
    "eval": {"extractor": "modes", "every": 20, "num_samples": 500, "metrics": []},
    "resources": {"cpu": 1},
}


def _results(tmp_path):
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    res = tmp_path / "results"
    run_suite(load_suite(path), res, executor="serial", progress=False, log=lambda m: None)
    sdir = res / "live"
    for f in ("runs.parquet", "curves.parquet"):
        (sdir / f).unlink()
    runs = sorted((sdir / "runs").iterdir())
    rec = json.loads((runs[0] / "record.json").read_text())
    rec["status"] = "running"  # one run still in progress ...
    (runs[0] / "record.json").write_text(json.dumps(rec))
    for p in runs[1:2]:  # ... and one not started yet
        for f in sorted(p.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        p.rmdir()
    return res, sdir


def test_report_of_a_running_suite_writes_nothing_and_says_what_is_pending(tmp_path, capsys):
    res, sdir = _results(tmp_path)
    before = sorted(p.relative_to(sdir) for p in sdir.rglob("*"))
    with SuiteLock(sdir, log=lambda m: None):  # a driver holds the suite
        code = main(["report", "live", "--results", str(res), "--reports", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 of 3 runs finished, 2 pending (a driver is running it: pid" in out
    html = (tmp_path / "reports" / "live" / "index.html").read_text()
    assert "2 pending" in html
    assert sorted(p.relative_to(sdir) for p in sdir.rglob("*")) == before  # nothing written under results/


def test_report_of_an_interrupted_suite(tmp_path, capsys):
    res, sdir = _results(tmp_path)
    assert main(["report", "live", "--results", str(res), "--reports", str(tmp_path / "reports")]) == 0
    assert "pending (interrupted: `ganbench run` resumes it)" in capsys.readouterr().out
    assert not (sdir / "runs.parquet").exists()


def test_report_vs_another_suite_from_the_command_line(tmp_path, capsys):
    import shutil

    res, sdir = _results(tmp_path)
    shutil.copytree(sdir, res / "live-copy")
    assert main(["report", "live", "--results", str(res), "--reports", str(tmp_path / "reports"),
                 "--vs", "live-copy"]) == 0
    md = (tmp_path / "reports" / "live" / "vs-live-copy.md").read_text()
    assert "# live vs live-copy" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "objective" not in line]
    assert rows and all("no difference shown" in r or "too few seeds" in r for r in rows)  # a copy equals itself
    assert main(["report", "live", "--results", str(res), "--reports", str(tmp_path / "reports"),
                 "--vs", "live"]) == 2  # not against itself


def test_run_refreshes_the_live_report_as_runs_finish(tmp_path):
    """The driver re-renders the report after runs finish (here after every one: interval 0 with a
    clock that always moves on), each render saying how many are pending; the final report of
    `ganbench run` then has no pending note."""
    from bench.suite_cli import ReportRefresher

    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    res, reports = tmp_path / "results", tmp_path / "reports"
    seen = []

    class Watching(ReportRefresher):
        def __call__(self, prog=None):
            super().__call__(prog)
            seen.append((self.out / "index.html").read_text())

    refresh = Watching(res / "live", reports / "live", interval=0, log=lambda m: None)
    run_suite(load_suite(path), res, executor="serial", progress=False, log=lambda m: None, on_finish=refresh)
    assert [n.split(" (")[0] for n in refresh.notes] == ["1 of 3 runs finished, 2 pending",
                                                           "2 of 3 runs finished, 1 pending", ""]
    assert "a driver is running it: pid" in refresh.notes[0]  # the driver itself holds the suite's lock
    assert "2 pending" in seen[0] and "1 pending" in seen[1] and "pending" not in seen[2]


def test_refresh_is_throttled_and_never_fails_the_suite(tmp_path):
    from bench.suite_cli import ReportRefresher

    res, sdir = _results(tmp_path)
    now = [0.0]
    logs = []
    refresh = ReportRefresher(sdir, tmp_path / "reports" / "live", interval=100, clock=lambda: now[0],
                              log=logs.append)
    for t in (0.0, 50.0, 99.0, 100.0, 150.0, 260.0):
        now[0] = t
        refresh()
    assert len(refresh.notes) == 3  # at 0, 100 and 260 s
    broken = ReportRefresher(tmp_path / "no-such-suite", tmp_path / "r2", interval=0, log=logs.append)
    broken()  # no records: a warning, no exception
    assert broken.notes == [] and logs[-1].startswith("live report not refreshed")


def test_report_every_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    common = [str(path), "--executor", "serial", "--results", str(tmp_path / "results"),
              "--reports", str(tmp_path / "reports"), "--no-progress"]
    assert main(["run", *common, "--report-every", "-1"]) == 2
    assert "--report-every -1" in capsys.readouterr().err
    assert main(["run", *common, "--report-every", "0.001"]) == 0
    err = capsys.readouterr().err
    assert "live report:" in err and "pending" in err
    assert "pending" not in (tmp_path / "reports" / "live" / "index.html").read_text()
