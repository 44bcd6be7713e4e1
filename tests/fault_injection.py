"""Random faults against a real Ray suite: the driver SIGKILLed at random instants, trial workers
SIGKILLed at random instants (at most one kill per trial, within Tune's retry budget of 2), then
the suite relaunched until it finishes. Checks that every run finished exactly once, all ``done``,
with the same table and curves as an uninterrupted run. Seeded, so a failing campaign can be
replayed with the same instants.

    python tests/fault_injection.py --driver-kills 20 --worker-kills 3 --seed 0 --work /tmp/faults

Run everything that starts Ray inside a loopback-only network namespace on machines whose cloud
metadata probes hang. ``tests/test_fault_injection.py`` runs the campaign of the issue (5 driver
kills, 3 worker kills) in CI."""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import curves, table_core  # noqa: E402  (the comparison the suite tests use)

SUITE = {
    "name": "faults", "version": 1,
    "grid": {"loss": ["ns", "lsgan"], "dataset": ["ring8"], "seed": [0, 1, 2]},
    "fixed": {"steps": 1000, "batch_size": 64, "log_every": 50, "checkpoint_every": 100},
    "eval": {"extractor": "modes", "every": 500, "num_samples": 500, "metrics": []},
    "resources": {"cpu": 1},
}


STARTUP_CAP_S = 90.0  # a launch whose trials have not started by then is killed anyway


def _cmd(suite: Path, results: Path, executor: str) -> List[str]:
    return [sys.executable, "-m", "bench.cli", "run", str(suite), "--executor", executor, "--results", str(results),
            "--no-report", "--no-progress", "--max-concurrent", "2"]


def _kill_group(proc: subprocess.Popen) -> int:
    """SIGKILL the driver alone, give the Ray processes it started 10 s to notice, then kill what is
    left of its process group (the local Ray head dies with its driver). Returns the leftovers."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline, left = time.time() + 10, 0
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
        left = 1
    except ProcessLookupError:
        pass
    time.sleep(1)
    return left


def _mean_wall_s(sdir: Path) -> float:
    walls = [json.loads(r.read_text())["cost"]["wall_s"] for r in (sdir / "runs").glob("*/record.json")]
    return sum(walls) / len(walls)


def _finished(results: Path) -> set:
    out = set()
    for rec in (results / "faults" / "runs").glob("*/record.json"):
        try:
            if json.loads(rec.read_text())["status"] in ("done", "diverged"):
                out.add(rec.parent.name)
        except (OSError, ValueError, KeyError):
            pass
    return out


def _kill_a_worker(pids: Path, killed: set, results: Path, log) -> bool:
    """SIGKILL the process training a trial not killed before and not finished. True if one died."""
    done = _finished(results)
    for note in sorted(pids.glob("*.json")):
        try:
            info = json.loads(note.read_text())
        except (OSError, ValueError):
            continue
        runs = tuple(info["runs"])
        if runs in killed or set(runs) <= done:
            continue
        try:
            os.kill(int(info["pid"]), signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.add(runs)
        log(f"  killed trial worker pid {info['pid']} (runs {', '.join(r[:8] for r in runs)})")
        return True
    return False


def campaign(work: Path, seed: int = 0, driver_kills: int = 5, worker_kills: int = 3,
             window: tuple = (0.5, 30.0), log=print, max_launches: int = 60) -> Dict[str, Any]:
    """Runs the uninterrupted reference (serial executor), then the faulty Ray campaign, then checks.
    Returns the figures; raises AssertionError naming what broke."""
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    suite = work / "faults.yaml"
    suite.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    ref, res, pids = work / "reference", work / "results", work / "pids"
    pids.mkdir(exist_ok=True)
    t0 = time.time()
    if not (ref / "faults" / "runs.parquet").exists():
        subprocess.run(_cmd(suite, ref, "serial"), env=env, check=True, capture_output=True)
    t_ref = time.time() - t0
    env["GANBENCH_TRIAL_PID_DIR"] = str(pids)

    # the plan, drawn up front from the seed: how long each killed driver lives after its first trial
    # started (with the previous launches' checkpoints, it resumes at once), and for each worker
    # kill the launch it happens in (one of the first three, while enough trials are unfinished; a kill
    # whose launch dies first moves to the next) and how long after that launch's first trial started
    # A kill must land while runs remain, on a fast machine too: each driver's life is a seeded
    # fraction of half the training time left (from the reference's per-run wall time, two trials at a
    # time), within the window.
    driver_u = [rng.random() for _ in range(driver_kills)]
    per_run = _mean_wall_s(ref / "faults")
    n_runs = len(list((ref / "faults" / "runs").iterdir()))

    def horizon() -> float:
        left = max(n_runs - len(_finished(res)), 1) * per_run / 2
        return max(window[0] + 0.5, min(window[1], 0.5 * left))

    def life_of(k: int) -> float:
        return window[0] + driver_u[k] * (horizon() - window[0])
    # a worker kill: the launch it belongs to and the fraction of that launch's life (or, in the last,
    # unkilled launch, of the horizon) after its first trial started; one that finds no live trial not
    # yet killed moves on to the next launch
    worker_plan = sorted((rng.randrange(min(3, driver_kills + 1)), rng.uniform(0.1, 0.9)) for _ in range(worker_kills))
    log(f"seed {seed}: drivers killed at fractions {', '.join(f'{u:.2f}' for u in driver_u)} of the window "
        f"[{window[0]}, min({window[1]}, half the training left)] s (reference: {per_run:.1f} s per run); worker kills "
        f"(launch, fraction of its life) {', '.join(f'({k + 1}, {u:.2f})' for k, u in worker_plan)}")
    killed: set = set()
    launches, drivers_killed, leftovers = 0, 0, 0
    t1 = time.time()
    while True:
        launches += 1
        assert launches <= max_launches, f"the suite did not finish in {max_launches} launches"
        out_path = work / f"launch-{launches}.log"
        with open(out_path, "wb") as out_file:  # a file, not a pipe: a pipe nobody reads blocks the driver
            proc = subprocess.Popen(_cmd(suite, res, "ray"), env=env, stdout=out_file, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        life = life_of(drivers_killed) if drivers_killed < driver_kills else float("inf")
        span = life if life != float("inf") else horizon()  # what worker-kill fractions are of
        born, first_trial = time.time(), None

        def doomed() -> bool:  # a driver's life counts from its first trial (Ray's start-up varies with load)
            return time.time() - (first_trial or born) >= life + (0 if first_trial else STARTUP_CAP_S)
        while proc.poll() is None and not doomed():
            if first_trial is None and any(n.stat().st_mtime >= born for n in pids.glob("*.json")):
                first_trial = time.time()  # this launch's first trial has started training
            due = [w for w in worker_plan if w[0] <= drivers_killed]
            if due and first_trial is not None and time.time() - first_trial >= due[0][1] * span:
                if _kill_a_worker(pids, killed, res, log):
                    worker_plan.remove(due[0])
            time.sleep(0.1)
        lived = time.time() - born
        if proc.poll() is None:
            leftovers += _kill_group(proc)
            drivers_killed += 1
            started = f"first trial after {first_trial - born:.1f} s" if first_trial else "no trial started"
            log(f"launch {launches}: driver killed after {lived:.1f} s (life {life:.1f} s; {started}; "
                f"{len(_finished(res))} runs finished)")
            continue
        out = out_path.read_text(errors="replace")
        assert proc.returncode == 0, f"launch {launches} ended with exit code {proc.returncode}:\n{out[-3000:]}"
        log(f"launch {launches}: suite finished after {lived:.1f} s")
        break
    figures = {"seed": seed, "launches": launches, "driver_kills": drivers_killed, "worker_kills": len(killed),
               "worker_kills_not_made": len(worker_plan), "leftover_ray_groups_killed": leftovers,
               "reference_s": round(t_ref, 1), "faulty_s": round(time.time() - t1, 1)}
    figures.update(check(ref / "faults", res / "faults"))
    log(json.dumps(figures))
    return figures


def check(ref: Path, res: Path) -> Dict[str, Any]:
    """Every run finished exactly once, all done, and the same table and curves as the reference."""
    runs = sorted(p for p in (res / "runs").iterdir() if p.is_dir())
    want = sorted(p.name for p in (ref / "runs").iterdir() if p.is_dir())
    assert [p.name for p in runs] == want, "the faulty suite's runs differ from the reference's"
    resumes = {}
    for r in runs:
        events = [json.loads(x) for x in (r / "events.jsonl").read_text().splitlines()]
        ends = [e for e in events if e["event"] == "end"]
        assert len(ends) == 1 and ends[0]["status"] == "done", f"{r.name}: end events {ends}"
        assert json.loads((r / "record.json").read_text())["status"] == "done", r.name
        resumes[r.name] = [e["step"] for e in events if e["event"] == "start"]
    pd.testing.assert_frame_equal(table_core(ref / "runs.parquet"), table_core(res / "runs.parquet"))
    pd.testing.assert_frame_equal(curves(ref / "curves.parquet"), curves(res / "curves.parquet"))
    return {"runs": len(runs), "starts_per_run": {k[:8]: v for k, v in resumes.items()},
            "resumed_runs": sum(len(v) > 1 for v in resumes.values()), "table_identical": True}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="working folder (reference and faulty results)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--driver-kills", type=int, default=5)
    ap.add_argument("--worker-kills", type=int, default=3)
    a = ap.parse_args(argv)
    campaign(a.work, a.seed, a.driver_kills, a.worker_kills)
    return 0


if __name__ == "__main__":
    sys.exit(main())
