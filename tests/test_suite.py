import json
import signal
import subprocess
import sys
import time

import pandas as pd
import torch
import pytest
import yaml

from bench.suite import SuiteError, load_suite, suite_from_dict
from conftest import changed, curves, table_core

BASE = {
    "name": "t", "version": 1,
    "grid": {"loss": ["ns", "wgan"], "dataset": ["ring8"], "seed": [0, 1]},
    "fixed": {"steps": 30, "batch_size": 32, "log_every": 10, "checkpoint_every": 10},
    "eval": {"extractor": "none"},
    "resources": {"cpu": 1},
}


def write(tmp_path, d, name="s.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def with_(**changes):
    return changed(BASE, **changes)


@pytest.mark.parametrize("changes,key,needle", [
    ({"gird": {}}, "gird", "Did you mean 'grid'"),
    ({"grid__loss": ["ns", "wgan_gp"]}, "grid.loss", "Did you mean 'wgan-gp'"),
    ({"grid__dataset": ["ring9"]}, "grid.dataset", "Valid datasets"),
    ({"grid__loss": ["acgan"], "grid__dataset": ["celeba"]}, "grid", "needs class labels"),
    ({"fixed__optim": {"lrr": 1}}, "optim", "unknown key 'lrr'"),
    ({"fixed__stepz": 3}, "stepz", "unknown key 'stepz'"),
    ({"resources__tpu": 1}, "resources.tpu", "unknown key"),
    ({"overrides": {"lsgan": {"steps": 3}}}, "overrides.lsgan", "not an objective of this suite's grid"),
    ({"search": {"samples": 3, "space": {"optim.lr": {"log_uniform": [1e-2, 1e-5]}}}}, "search.space.optim.lr", "reversed"),
    ({"search": {"samples": 3, "space": {"optim.lr": {"log_uniform": [0, 1]}}}}, "search.space.optim.lr", "low > 0"),
    ({"search": {"samples": 3, "space": {"optim.lr": {"loguniform": [1e-4, 1]}}}}, "search.space.optim.lr", "Did you mean 'log_uniform'"),
    ({"search": {"samples": 0}}, "search.samples", "positive integer"),
    ({"grid__seed": [-1]}, "grid.seed", "non-negative"),
])
def test_validation_names_file_and_key(tmp_path, changes, key, needle):
    p = write(tmp_path, with_(**changes))
    with pytest.raises(SuiteError) as e:
        load_suite(p)
    msg = str(e.value)
    assert str(p) in msg and key in msg and needle in msg, msg


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(tmp_path / "bad.yaml")


def test_grid_expansion_counts_and_order_of_settings():
    s = suite_from_dict(with_(grid__model=["mlp"], **{"grid__stabilise.label_smoothing": [0.0, 0.1]},
                              grid__loss=["ns", "lsgan"], overrides={"lsgan": {"optim": {"lr": 1e-3}}}))
    runs = s.plan_grid()
    assert len(runs) == 2 * 1 * 2 * 2 == s.count()
    assert len({r.run_id for r in runs}) == len(runs)
    ls = [r for r in runs if r.spec.loss == "lsgan"]
    assert all(r.spec.optim.lr == 1e-3 for r in ls)
    assert {r.spec.stabilise.label_smoothing for r in runs} == {0.0, 0.1}
    # seeds of one configuration share a config_id
    by_cfg = {}
    for r in runs:
        by_cfg.setdefault(r.config_id, set()).add(r.spec.seed)
    assert all(v == {0, 1} for v in by_cfg.values())


def test_run_ids_stable_across_processes_and_key_order(tmp_path):
    p1 = write(tmp_path, BASE, "a.yaml")
    reordered = {k: BASE[k] for k in reversed(list(BASE))}
    reordered["fixed"] = {k: BASE["fixed"][k] for k in reversed(list(BASE["fixed"]))}
    p2 = write(tmp_path, reordered, "b.yaml")
    ids1 = [r.run_id for r in load_suite(p1).plan_grid()]
    ids2 = sorted(r.run_id for r in load_suite(p2).plan_grid())
    code = f"from bench.suite import load_suite; print(sorted(r.run_id for r in load_suite({str(p1)!r}).plan_grid()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert sorted(ids1) == ids2 == eval(out)


def test_search_expansion_deterministic_and_in_range():
    d = with_(search={"samples": 6, "seed": 3, "final_seeds": 4,
                      "space": {"optim.lr": {"log_uniform": [1e-5, 1e-2]}, "optim.beta1": {"uniform": [0, 1]},
                                "n_critic": {"choice": [1, 5]}},
                      "space_per_loss": {"wgan": {"loss_params.clip": {"log_uniform": [1e-3, 1.0]}}},
                      "narrow": {"samples": 2, "fixed": {"n_critic": 1},
                                 "space": {"optim.lr": {"log_uniform": [1e-4, 1e-3]}}}})
    s1, s2 = suite_from_dict(d), suite_from_dict(json.loads(json.dumps(d)))
    w1, w2 = s1.plan_search("wide"), s2.plan_search("wide")
    assert len(w1) == 2 * 6 and [r.run_id for r in w1] == [r.run_id for r in w2]
    ns = [r for r in w1 if r.spec.loss == "ns"]
    assert ns[0].spec.optim.lr == 2e-4 and ns[0].spec.optim.betas == (0.5, 0.999)  # sample 0 = paper defaults
    for r in ns[1:]:
        assert 1e-5 <= r.spec.optim.lr <= 1e-2 and 0 <= r.spec.optim.betas[0] <= 1
        assert r.spec.optim.betas[1] == 0.999 and r.spec.n_critic in (1, 5)
    assert len({r.spec.optim.lr for r in ns}) == 6
    assert all(1e-3 <= r.spec.loss_params["clip"] <= 1 for r in w1 if r.spec.loss == "wgan" and r.sample)
    nar = s1.plan_search("narrow")
    assert len(nar) == 4 and all(r.spec.n_critic == 1 and 1e-4 <= r.spec.optim.lr <= 1e-3 for r in nar)
    assert s1.count() == 2 * (6 + 2 + 4)
    d["search"]["seed"] = 4
    assert [r.run_id for r in suite_from_dict(d).plan_search("wide")][1:] != [r.run_id for r in w1][1:]


def test_search_then_final_seeds_end_to_end(tmp_path):
    from bench.runner import run_suite

    d = with_(grid__loss=["ns"], grid__seed=[0],
              eval={"extractor": "modes", "num_samples": 500, "every": 15, "kid_subset_size": 100},
              search={"samples": 3, "seed": 0, "final_seeds": 2, "metric": "frechet_inception_distance",
                      "space": {"optim.lr": {"log_uniform": [1e-4, 1e-2]}}})
    s = suite_from_dict(d, write(tmp_path, d))
    out = run_suite(s, tmp_path / "res", executor="serial", progress=False, log=lambda m: None)
    df = out["table"]
    assert len(df) == 5 and set(df["search.phase"]) == {"wide", "final"}
    wide = df[df["search.phase"] == "wide"]
    best = wide.loc[wide["metric.best.frechet_inception_distance"].idxmin()]
    fin = df[df["search.phase"] == "final"]
    assert sorted(fin["seed"]) == [1, 2]
    assert (fin["param.optim.lr"] == best["param.optim.lr"]).all()


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, **kw)


def test_failed_and_diverged_runs_are_recorded_and_suite_completes(tmp_path):
    d = with_(grid__loss=["ns", "lsgan", "wgan"], grid__seed=[0],
              overrides={"ns": {"debug": {"nan_at_step": 12}}, "lsgan": {"debug": {"raise_at_step": 5}}})
    p = write(tmp_path, d)
    r = cli("run", str(p), "--executor", "serial", "--results", str(tmp_path / "res"), "--no-report", "--no-progress")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(tmp_path / "res" / "t" / "runs.parquet").set_index("loss")
    assert df.loc["ns", "status"] == "diverged" and "step 12" in df.loc["ns", "reason"]
    assert df.loc["lsgan", "status"] == "failed" and "injected failure at step 5" in df.loc["lsgan", "reason"]
    assert df.loc["wgan", "status"] == "done"
    st = cli("status", "t", "--results", str(tmp_path / "res"))
    assert "diverged 1" in st.stdout and "failed 1" in st.stdout and "injected failure" in st.stdout
    # re-running redoes only the failed run
    r2 = cli("run", str(p), "--executor", "serial", "--results", str(tmp_path / "res"), "--no-report", "--no-progress")
    assert "2 already finished, 1 to run" in r2.stderr


def test_corrupt_record_is_reported_and_redone(tmp_path):
    p = write(tmp_path, with_(grid__loss=["ns"], grid__seed=[0]))
    res = tmp_path / "res"
    assert cli("run", str(p), "--executor", "serial", "--results", str(res), "--no-report", "--no-progress").returncode == 0
    rec = next((res / "t" / "runs").glob("*/record.json"))
    rec.write_text('{"status": "do')  # half-written
    r = cli("run", str(p), "--executor", "serial", "--results", str(res), "--no-report", "--no-progress")
    assert "unreadable record" in r.stderr and "1 to run" in r.stderr
    assert json.loads(rec.read_text())["status"] == "done"


@pytest.mark.slow
def test_sigkill_driver_then_rerun_finishes_exactly_once(tmp_path):
    d = with_(grid__loss=["ns", "lsgan"], grid__seed=[0, 1], fixed={"steps": 400, "batch_size": 32, "log_every": 50,
                                                                    "checkpoint_every": 50})
    p = write(tmp_path, d)
    ref = tmp_path / "ref"
    assert cli("run", str(p), "--executor", "serial", "--results", str(ref), "--no-report", "--no-progress").returncode == 0
    res = tmp_path / "res"
    args = [sys.executable, "-m", "bench.cli", "run", str(p), "--executor", "serial", "--results", str(res),
            "--no-report", "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = res / "t" / "runs"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill once one run is finished and the next is mid-way
        done = [r for r in runs.glob("*/record.json") if json.loads(r.read_text())["status"] == "done"] if runs.exists() else []
        if done and any((r / "checkpoints" / "latest.pt").exists() and not (r / "record.json").exists()
                        or ((r / "record.json").exists() and json.loads((r / "record.json").read_text())["status"] == "running")
                        for r in runs.iterdir()):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cli(*args[3:]).returncode == 0
    for rdir in runs.iterdir():
        events = [json.loads(x) for x in (rdir / "events.jsonl").read_text().splitlines()]
        ends = [e for e in events if e["event"] == "end"]
        assert len(ends) == 1 and ends[0]["status"] == "done", events  # finished exactly once
        starts = [e["step"] for e in events if e["event"] == "start"]
        assert starts.count(0) == 1, events  # never restarted from scratch
    assert any(len([l for l in (r / "events.jsonl").read_text().splitlines() if '"start"' in l]) == 2
               for r in runs.iterdir()), "no run was resumed: the kill came too late"
    pd.testing.assert_frame_equal(table_core(ref / "t" / "runs.parquet"), table_core(res / "t" / "runs.parquet"))
    pd.testing.assert_frame_equal(curves(ref / "t" / "curves.parquet"), curves(res / "t" / "curves.parquet"))


@pytest.mark.slow
def test_ray_executor_matches_serial(tmp_path):
    p = write(tmp_path, BASE)
    a, b = tmp_path / "serial", tmp_path / "ray"
    assert cli("run", str(p), "--executor", "serial", "--results", str(a), "--no-report", "--no-progress").returncode == 0
    r = cli("run", str(p), "--executor", "ray", "--results", str(b), "--no-report", "--no-progress",
            "--max-concurrent", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    pd.testing.assert_frame_equal(table_core(a / "t" / "runs.parquet"), table_core(b / "t" / "runs.parquet"))
    pd.testing.assert_frame_equal(curves(a / "t" / "curves.parquet"), curves(b / "t" / "curves.parquet"))
    assert all((run / "samples" / "final.png").exists() for run in (b / "t" / "runs").iterdir())


@pytest.mark.slow
def test_ray_trial_that_dies_resumes_from_its_tune_checkpoint_in_uri_storage(tmp_path):
    """A worker killed mid-run (debug.crash_at_step: os._exit) is retried by Tune's FailureConfig
    and resumes from the checkpoint it reported to Tune, here in storage given as a file:// URI;
    the table equals an uninterrupted serial run (the crash setting is not part of the run id)."""
    from bench.rescore import _open_checkpoint

    base = with_(grid__loss=["ns", "lsgan"], grid__seed=[0],
                 fixed={"steps": 120, "batch_size": 32, "log_every": 10, "checkpoint_every": 40})
    ref = tmp_path / "ref"
    assert cli("run", str(write(tmp_path, base, "ref.yaml")), "--executor", "serial", "--results", str(ref),
               "--no-report", "--no-progress").returncode == 0
    crash = json.loads(json.dumps(base))
    crash["overrides"] = {"ns": {"debug": {"crash_at_step": 90}}}
    res, store = tmp_path / "res", tmp_path / "store"
    r = cli("run", str(write(tmp_path, crash)), "--executor", "ray", "--results", str(res), "--no-report",
            "--no-progress", "--max-concurrent", "2", "--storage", f"file://{store}")
    assert r.returncode == 0, r.stderr[-3000:]
    pd.testing.assert_frame_equal(table_core(ref / "t" / "runs.parquet"), table_core(res / "t" / "runs.parquet"))
    pd.testing.assert_frame_equal(curves(ref / "t" / "curves.parquet"), curves(res / "t" / "curves.parquet"))
    df = pd.read_parquet(res / "t" / "runs.parquet").set_index("loss")
    events = [json.loads(x) for x in (res / "t" / "runs" / df.loc["ns", "run_id"] / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "start"] == [0, 80], events  # died at 90, resumed at 80
    assert [e["status"] for e in events if e["event"] == "end"] == ["done"]
    assert any(store.rglob("checkpoint_*")), "checkpoints did not go to the --storage URI"
    for loss in ("ns", "lsgan"):
        rec = json.loads((res / "t" / "runs" / df.loc[loss, "run_id"] / "record.json").read_text())
        assert rec["artifacts"]["checkpoint"].startswith(f"file://{store}")
        ck = torch.load(_open_checkpoint(rec["artifacts"]["checkpoint"]), weights_only=False)
        assert ck["run_id"] == rec["run_id"] and ck["step"] == 120
        assert (res / "t" / "runs" / rec["run_id"] / "samples" / "final.png").exists()
        assert not (res / "t" / "runs" / rec["run_id"] / "resume.json").exists()


def test_restore_unit_from_a_resume_pointer(tmp_path, private_tmp):
    """A re-launched suite hands each unfinished run its latest checkpoint's location; the trial
    copies that run's folder out of it, and a vanished checkpoint means a fresh start, not a crash."""
    from bench.executors.ray_tune import _restore_unit

    s = suite_from_dict(with_(grid__seed=[0]))
    p = s.plan_grid()[0]
    ck = tmp_path / "checkpoint_000001"
    (ck / p.run_id / "checkpoints").mkdir(parents=True)
    (ck / p.run_id / "checkpoints" / "latest.pt").write_bytes(b"state")
    (ck / "other-run").mkdir()
    local, logs = tmp_path / "local", []
    local.mkdir()
    assert _restore_unit(local, [p], None, {p.run_id: f"file://{ck}"}, logs.append) == "pointer"
    assert (local / p.run_id / "checkpoints" / "latest.pt").read_bytes() == b"state"
    assert not (local / "other-run").exists()
    local2 = tmp_path / "local2"
    local2.mkdir()
    assert _restore_unit(local2, [p], None, {p.run_id: f"file://{tmp_path}/gone"}, logs.append) == "none"
    assert "starting from scratch" in logs[-1] and not any(local2.iterdir())
    assert not list(tmp_path.glob("tmp/*")), "restore left temporary folders behind"


@pytest.fixture(autouse=False)
def private_tmp(tmp_path, monkeypatch):
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


def test_callback_points_runs_at_checkpoints_and_adopts_the_final_one(tmp_path):
    """The driver side of a Ray trial, with stand-ins for Tune's trial and checkpoint objects:
    each checkpoint moves the run's resume pointer; the final one, paired with the final result
    by folder name, brings record, samples and events into results/ and drops the pointer."""
    from bench.config import to_dict
    from bench.executors import RESUME_NAME, SuiteProgress
    from bench.executors.ray_tune import _make_callback_class
    from bench.train import train

    p = suite_from_dict(with_(grid__seed=[0])).plan_grid()[0]
    trial_dir = tmp_path / "store" / "exp" / "trial"
    final = trial_dir / "checkpoint_000002"
    rec = train(p.spec, final / p.run_id, progress=False)

    class Trial:
        trial_id = "t1"
        config = {"run": {"unit": [{"spec": to_dict(p.spec), "meta": p.meta()}]}}

    class Ckpt:
        def __init__(self, path):
            self.path = str(path)

    logs, res = [], tmp_path / "res"
    cb = _make_callback_class()(SuiteProgress(total=1), res, f"file://{tmp_path / 'store'}", logs.append)
    pointer = res / "runs" / p.run_id / RESUME_NAME
    cb.on_checkpoint(0, [], Trial, Ckpt(trial_dir / "checkpoint_000001"))
    assert json.loads(pointer.read_text()) == {"checkpoint": f"file://{trial_dir}/checkpoint_000001"}
    # a final result whose checkpoint is not the one that arrives is not paired with it
    cb.on_trial_result(0, [], Trial, {"final": True, "checkpoint_dir_name": "checkpoint_000002"})
    cb.on_checkpoint(0, [], Trial, Ckpt(trial_dir / "checkpoint_000009"))
    assert not (res / "runs" / p.run_id / "record.json").exists() and cb.prog.done == 0
    cb.on_checkpoint(0, [], Trial, Ckpt(final))
    got = json.loads((res / "runs" / p.run_id / "record.json").read_text())
    assert got["artifacts"]["checkpoint"] == f"file://{final}/{p.run_id}/checkpoints/latest.pt"
    assert {k: v for k, v in got.items() if k != "artifacts"} == {k: v for k, v in rec.items() if k != "artifacts"}
    assert sorted(x.name for x in (res / "runs" / p.run_id / "samples").iterdir()) == \
        sorted(x.name for x in (final / p.run_id / "samples").iterdir())
    assert (res / "runs" / p.run_id / "events.jsonl").read_text() == (final / p.run_id / "events.jsonl").read_text()
    assert not pointer.exists() and cb.prog.done == 1 and p.run_id in cb.adopted
    # an error while recording is logged, never raised into Tune
    cb.on_checkpoint(0, [], type("Broken", (), {"trial_id": "t2", "config": {}}), Ckpt(final))
    assert "could not record its checkpoint" in logs[-1]


@pytest.mark.slow
def test_ray_relaunch_resumes_a_failed_run_from_its_pointer(tmp_path):
    """Two launches of the same suite on Ray: a run that fails at step 90 (an exception, recorded
    as failed) keeps a pointer to its last stored checkpoint; the second launch hands it to the
    new trial, which resumes at step 80 instead of starting over."""
    d = with_(grid__loss=["ns"], grid__seed=[0],
              fixed={"steps": 120, "batch_size": 32, "log_every": 10, "checkpoint_every": 40},
              overrides={"ns": {"debug": {"raise_at_step": 90}}})
    p, res = write(tmp_path, d), tmp_path / "res"
    args = ("run", str(p), "--executor", "ray", "--results", str(res), "--no-report", "--no-progress")
    for launch in (1, 2):
        r = cli(*args)
        assert r.returncode == 0, r.stderr[-3000:]
        (rdir,) = list((res / "t" / "runs").iterdir())
        rec = json.loads((rdir / "record.json").read_text())
        assert rec["status"] == "failed" and "injected failure at step 90" in rec["reason"]
        pointer = json.loads((rdir / "resume.json").read_text())["checkpoint"]
        assert pointer.startswith(str(res / "t" / "tune"))
    starts = [json.loads(x)["step"] for x in (rdir / "events.jsonl").read_text().splitlines()
              if json.loads(x)["event"] == "start"]
    assert starts == [0, 80], starts
