"""Equal budgets by construction and successive halving (issue 11, item 1).

A budget is configurations tried x D steps each trains. A suite whose objectives get different
budgets is refused unless it says ``allow_unequal_budgets: true``; successive halving promotes
the same runs in the serial and the Ray executor and after a driver restart, and every cell's
compute is recorded (record["search"], results/<suite>/budget.json)."""
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.results import atomic_write_json, read_record
from conftest import changed
from bench.suite import SuiteError, load_suite, suite_from_dict

GRID = {
    "name": "b", "version": 1,
    "grid": {"loss": ["ns", "wgan"], "dataset": ["ring8"], "seed": [0, 1]},
    "fixed": {"model": "mlp", "steps": 30, "batch_size": 32, "log_every": 10, "checkpoint_every": 10},
    "eval": {"extractor": "none"},
}
SEARCH = {
    **GRID,
    "search": {"samples": 4, "seed": 1, "metric": "frechet_inception_distance",
               "space": {"optim.lr": {"log_uniform": [1e-4, 1e-2]}, "optim.beta1": {"uniform": [0.0, 0.9]}},
               "space_per_loss": {"wgan": {"loss_params.clip": {"log_uniform": [1e-3, 1.0]}}}},
}
# the end-to-end halving suite: two objectives, 4 configurations, rungs of 6 / 18 D steps, eta 2
# (two rungs: every phase under Ray starts and stops a local cluster; rung chains are checked above)
HALVING = {
    "name": "hv", "version": 1,
    "grid": {"loss": ["ns", "lsgan"], "dataset": ["ring8"], "seed": [0]},
    "fixed": {"model": "mlp", "batch_size": 32, "log_every": 6, "checkpoint_every": 6},
    "eval": {"extractor": "modes", "num_samples": 200, "metrics": ["fid"], "every": 6},
    "search": {"samples": 4, "seed": 1, "metric": "frechet_inception_distance", "final_seeds": 1,
               "space": {"optim.lr": {"log_uniform": [1e-4, 1e-2]}},
               "halving": {"rungs": [6, 18], "eta": 2}},
}


copy_ = changed


def write(tmp_path, d, name="s.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, **kw)


# ---- refusal ------------------------------------------------------------------------------
UNEQUAL = [
    (GRID, {"overrides": {"wgan": {"steps": 60}}}, "overrides.wgan.steps", "different numbers of D steps"),
    (GRID, {"overrides": {"ns": {"seed": 0}}}, "overrides.ns.seed", "grid axis 'seed'"),
    (SEARCH, {"overrides": {"wgan": {"steps": 60}}}, "overrides.wgan.steps", "different numbers of D steps"),
    (SEARCH, {"overrides": {"wgan": {"optim": {"lr": 1e-3}}}}, "overrides.wgan.optim.lr", "the search samples"),
    (SEARCH, {"overrides": {"ns": {"optim": {"lr_d": 1e-3}}}}, "overrides.ns.optim.lr_d", "search.space.optim.lr"),
    (SEARCH, {"overrides": {"ns": {"optim": {"betas": [0.5, 0.9]}}}}, "overrides.ns.optim.betas", "optim.beta1"),
    (SEARCH, {"search__space_per_loss": {"wgan": {"optim.lr": {"log_uniform": [1e-5, 1e-3]}}}},
     "search.space_per_loss.wgan.optim.lr", "own parameters"),
    (SEARCH, {"search__space__steps": {"choice": [10, 30]}}, "search.space.steps", "D-step budget"),
    (SEARCH, {"search__narrow": {"samples": 2, "space": {"optim.lr": {"log_uniform": [1e-4, 1e-3]}}},
              "overrides": {"wgan": {"optim": {"lr": 1e-3}}}}, "overrides.wgan.optim.lr", "search.narrow.space"),
]


@pytest.mark.parametrize("base,changes,key,needle", UNEQUAL)
def test_unequal_budgets_are_refused_naming_file_and_key(tmp_path, base, changes, key, needle):
    d = copy_(base, **changes)
    p = write(tmp_path, d)
    with pytest.raises(SuiteError) as e:
        load_suite(p)
    msg = str(e.value)
    assert str(p) in msg and key in msg and needle in msg and "allow_unequal_budgets" in msg, msg
    # ... and accepted when the suite says so; the reason is kept for budget.json
    d["allow_unequal_budgets"] = True
    s = load_suite(write(tmp_path, d, "allowed.yaml"))
    assert s.allow_unequal_budgets and key in s.unequal_budgets


def test_cli_refuses_with_exit_2(tmp_path):
    p = write(tmp_path, copy_(GRID, overrides={"wgan": {"steps": 60}}))
    r = cli("run", str(p), "--executor", "serial", "--results", str(tmp_path / "res"), "--no-report", "--no-progress")
    assert r.returncode == 2 and str(p) in r.stderr and "overrides.wgan.steps" in r.stderr, r.stderr
    assert not (tmp_path / "res" / "b" / "runs").exists()


def test_equal_budget_suites_are_accepted():
    # per-objective settings that the search does not sample, per-dataset steps, objective extras
    ok = copy_(SEARCH, overrides={"wgan": {"optim": {"name": "rmsprop"}}, "ns": {"n_critic": 1}},
               datasets={"ring8": {"steps": 40}})
    assert suite_from_dict(ok).unequal_budgets is None
    # the shipped suites (quick has per-objective optimiser overrides, no search, equal steps)
    root = Path(__file__).resolve().parents[1] / "suites"
    for name in ("quick", "lucic2018", "losses-mnist"):
        s = load_suite(root / f"{name}.yaml")
        assert s.unequal_budgets is None and not s.allow_unequal_budgets


@pytest.mark.parametrize("halving,key,needle", [
    ({"rungs": [12, 6]}, "search.halving.rungs", "strictly increasing"),
    ({"rungs": [6]}, "search.halving.rungs", "at least two"),
    ({"rungs": 3, "eta": 1}, "search.halving.eta", "integer >= 2"),
    ({"eta": 2}, "search.halving.rungs", "required"),
    ({"rungs": 3, "min_steps": 5}, "search.halving.min_steps", "unknown key"),
    ({"rungs": 6, "eta": 3}, "search.halving.rungs", "too few"),  # 30 steps / 3^5 rounds to 0
])
def test_halving_settings_are_validated(tmp_path, halving, key, needle):
    p = write(tmp_path, copy_(SEARCH, search__halving=halving))
    with pytest.raises(SuiteError) as e:
        load_suite(p)
    assert str(p) in str(e.value) and key in str(e.value) and needle in str(e.value), str(e.value)


def test_halving_plan_budgets_are_equal_and_recorded():
    s = suite_from_dict(copy_(SEARCH, grid__seed=[0], search__halving={"rungs": 3, "eta": 2}))
    assert s.n_rungs() == 3 and s.rung_sizes(4) == [4, 2, 1] and s.rung_steps(30) == [8, 15, 30]
    assert s.count() == 2 * (4 + 2 + 1 + 1)
    rung0 = s.plan_search("wide", rung=0)
    by_loss = {}
    for p in rung0:
        by_loss.setdefault(p.spec.loss, []).append(p)
    assert {k: len(v) for k, v in by_loss.items()} == {"ns": 4, "wgan": 4}
    for p in rung0:
        m = p.meta()
        assert all(v is None or isinstance(v, (str, int, float, bool)) for v in m.values()), m
        assert (m["rung"], m["rungs"], m["rung_configs"], m["run_d_steps"]) == (0, 3, 4, 8)
        assert m["cell_configs"] == 4 and m["cell_runs"] == 7 and m["cell_d_steps"] == 4 * 8 + 2 * 15 + 30
    # the last rung trains each configuration as the plain search would: same run ids
    plain = {p.sample: p.run_id for p in s.plan_search("wide") if p.spec.loss == "ns"}
    last = s.plan_search("wide", rung=2, promoted={s.cell_of(by_loss["ns"][0].spec): {1}})
    assert [(p.sample, p.run_id) for p in last] == [(1, plain[1])]
    # a suite without halving keeps its plan (and run ids); its runs record their budget too
    w = suite_from_dict(SEARCH).plan_search("wide")
    assert all(p.rung is None and "rung" not in p.meta() and p.meta()["cell_d_steps"] == 4 * 30 for p in w)


def _fake_rung(tmp_path, order, scores):
    """Rung-0 records of a halving suite written in ``order``, with ``scores[(loss, sample)]``."""
    s = suite_from_dict(copy_(SEARCH, grid__seed=[0], search__halving={"rungs": [6, 12, 24], "eta": 2}))
    planned = s.plan_search("wide", rung=0)
    sdir = tmp_path / "res"
    for i in order:
        p = planned[i]
        v = scores[(p.spec.loss, p.sample)]
        status = "diverged" if v == "diverged" else "done"
        rec = {"run_id": p.run_id, "status": status, "search": p.meta(), "counts": {"d_steps": 6},
               "cost": {"wall_s": 1.5}, "metrics": {"best": {} if status != "done" else
                                                     {"frechet_inception_distance": v}}}
        atomic_write_json(sdir / "runs" / p.run_id / "record.json", rec)
    return s, planned, sdir


def test_promotion_is_independent_of_arrival_order_and_idempotent(tmp_path):
    from bench.runner import promote

    nan = float("nan")
    scores = {("ns", 0): 5.0, ("ns", 1): 2.0, ("ns", 2): 2.0, ("ns", 3): 1.0,        # tie: lower sample wins
              ("wgan", 0): nan, ("wgan", 1): "diverged", ("wgan", 2): 3.0, ("wgan", 3): 4.0}
    results = []
    for trial in range(3):
        order = list(range(8))
        random.Random(trial).shuffle(order)
        s, planned, sdir = _fake_rung(tmp_path / str(trial), order, scores)
        promoted = promote(sdir, s, planned, 0)
        again = promote(sdir, s, planned, 0)  # a restarted driver recomputes it from the same records
        assert again == promoted
        statuses = {(p.spec.loss, p.sample): read_record(sdir / "runs" / p.run_id)["status"] for p in planned}
        results.append((promoted, statuses))
    assert all(r == results[0] for r in results)
    promoted, statuses = results[0]
    assert sorted(promoted[s.cell_of(planned[0].spec)]) == [1, 3]
    assert sorted(promoted[s.cell_of(planned[4].spec)]) == [2, 3]
    assert statuses == {("ns", 0): "stopped", ("ns", 1): "done", ("ns", 2): "stopped", ("ns", 3): "done",
                        ("wgan", 0): "stopped", ("wgan", 1): "diverged", ("wgan", 2): "done", ("wgan", 3): "done"}
    rec = read_record(sdir / "runs" / planned[0].run_id)
    assert rec["search"]["rung_rank"] == 4 and rec["search"]["promoted"] is False
    assert rec["metrics"]["best"]["frechet_inception_distance"] == 5.0  # a stopped run keeps its scores


# ---- end to end: serial, restart, Ray ---------------------------------------------------------
def _summary(res: Path):
    """Per run: loss, phase, rung, sample, steps, status and score; plus the budget file."""
    df = pd.read_parquet(res / "hv" / "runs.parquet")
    rows = []
    for rid in df["run_id"]:
        rec = read_record(res / "hv" / "runs" / rid)
        srch = rec["search"]
        rows.append((rid, rec["keys"]["loss"], srch["phase"], srch.get("rung"), srch.get("sample"),
                     rec["counts"]["d_steps"], rec["status"], srch.get("promoted"),
                     rec["metrics"]["best"].get("frechet_inception_distance")))
    budget = json.loads((res / "hv" / "budget.json").read_text())
    return sorted(rows), budget


def _check_halving_result(rows, budget):
    for loss in ("ns", "lsgan"):
        mine = [r for r in rows if r[1] == loss]
        per_rung = {}
        for r in mine:
            if r[2] == "wide":
                per_rung.setdefault(r[3], []).append(r)
        assert {k: len(v) for k, v in per_rung.items()} == {0: 4, 1: 2}, mine
        assert all(r[5] == {0: 6, 1: 18}[rung] for rung, rs in per_rung.items() for r in rs)
        # a configuration at rung r + 1 was promoted at rung r; the others stopped there
        for rung in (0,):
            promoted = {r[4] for r in per_rung[rung + 1]}
            assert {r[4] for r in per_rung[rung] if r[7]} == promoted
            assert all(r[6] == ("done" if r[4] in promoted else "stopped") for r in per_rung[rung])
        assert [r[6] for r in per_rung[1]] == ["done", "done"]
        assert [r[5] for r in mine if r[2] == "final"] == [18]
    cells = {c["loss"]: c for c in budget["cells"]}
    assert budget["equal_budgets"] and budget["halving"] == {"rungs": [6, 18], "eta": 2}
    wide = {loss: cells[loss]["phases"]["wide"] for loss in ("ns", "lsgan")}
    for loss, w in wide.items():
        assert w["configurations"] == 4 and w["runs"] == 6
        assert w["d_steps"] == w["d_steps_planned"] == 4 * 6 + 2 * 18
        assert [(r["rung"], r["configurations"], r["d_steps"]) for r in w["rungs"]] == [(0, 4, 24), (1, 2, 36)]
        assert w["wall_s"] > 0 and cells[loss]["wall_s"] > w["wall_s"]
        assert cells[loss]["d_steps"] == 60 + 18 and cells[loss]["configurations"] == 4


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("halving")
    p = write(tmp, HALVING)
    res = tmp / "serial"
    r = cli("run", str(p), "--executor", "serial", "--results", str(res), "--no-report", "--no-progress")
    assert r.returncode == 0, r.stderr[-3000:]
    return p, res, _summary(res)


def test_halving_serial_gives_every_objective_the_same_budget(serial_reference):
    p, res, (rows, budget) = serial_reference
    _check_halving_result(rows, budget)
    for rid in (r[0] for r in rows):  # the budget of every search run is in its record
        rec = read_record(res / "hv" / "runs" / rid)
        assert {"phase", "config_id", "sample", "run_d_steps", "cell_configs", "cell_runs",
                "cell_d_steps"} <= set(rec["search"])
        assert all(v is None or isinstance(v, (str, int, float, bool)) for v in rec["search"].values())
    # a re-run finds everything finished (stopped runs included) and changes nothing
    r = cli("run", str(p), "--executor", "serial", "--results", str(res), "--no-report", "--no-progress")
    assert r.returncode == 0 and "0 to run" in r.stderr and " to run (serial)" in r.stderr, r.stderr
    assert all(" 0 to run" in line for line in r.stderr.splitlines() if "to run (serial)" in line), r.stderr
    assert _summary(res)[0] == rows


def test_halving_after_a_driver_restart_promotes_the_same_runs(serial_reference, tmp_path):
    from bench.runner import run_suite

    p, ref, (rows, _) = serial_reference
    # (a) the driver dies right after rung 0 (before any promotion): later records are gone and
    # rung 0's records are as the executor left them
    res = tmp_path / "a"
    shutil.copytree(ref, res)
    for rdir in (res / "hv" / "runs").iterdir():
        rec = read_record(rdir)
        if rec["search"].get("rung") != 0:
            shutil.rmtree(rdir)
        else:
            rec["status"] = "done"
            for k in ("rung_rank", "promoted"):
                rec["search"].pop(k, None)
            atomic_write_json(rdir / "record.json", rec)
    (res / "hv" / "budget.json").unlink()
    out = run_suite(load_suite(p), res, executor="serial", progress=False, log=lambda m: None)
    assert out["progress"].skipped == 8 and out["progress"].done == 4 + 2
    assert _summary(res)[0] == rows

    # (b) the driver is interrupted in rung 1 (after rung 0 was promoted), then launched again
    class Interrupt(Exception):
        pass

    def log(msg):
        if "rung 2/2" in msg:
            raise Interrupt(msg)
    res = tmp_path / "b"
    with pytest.raises(Interrupt):
        run_suite(load_suite(p), res, executor="serial", progress=False, log=log)
    assert len(list((res / "hv" / "runs").iterdir())) == 8
    run_suite(load_suite(p), res, executor="serial", progress=False, log=lambda m: None)
    got, budget = _summary(res)
    assert got == rows
    _check_halving_result(got, budget)


@pytest.mark.slow
def test_halving_promotes_the_same_runs_under_ray(serial_reference, tmp_path):
    p, _, (rows, _) = serial_reference
    res = tmp_path / "ray"
    r = cli("run", str(p), "--executor", "ray", "--results", str(res), "--no-report", "--no-progress",
            "--max-concurrent", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    got, budget = _summary(res)
    assert got == rows  # same run ids, rungs, statuses, promotions and scores
    _check_halving_result(got, budget)
    for rid in (row[0] for row in got):  # Ray trials carry phase and sample only; the runner adds the rest
        assert read_record(res / "hv" / "runs" / rid)["search"]["cell_d_steps"] in (60, 18)
