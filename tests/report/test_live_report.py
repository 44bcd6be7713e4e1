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
