"""ganbench merge (bench.merge): one suite's results folders from several machines merged into one.
Two folders of a tiny ring8 suite (seeds 0, 1, 2) where each machine finished part of it (seeds
0, 1 and 1, 2): the union of runs, the overlap once, a conflict refused and listed then resolved
with --prefer, a different suite or semantics version refused, a finished copy taken over a failed
one, idempotent re-runs, sources untouched; and the provenance fields of new records."""
import hashlib
import json
import os
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench import TRAINING_SEMANTICS_VERSION
from bench.cli import main
from bench.collect import collect
from bench.errors import MergeError
from bench.merge import MERGE_LOG, merge_results
from bench.results import RECORD_NAME
from bench.runner import run_suite
from bench.suite import load_suite
from conftest import changed

SUITE = {
    "name": "merged", "version": 1,
    "grid": {"loss": ["ns"], "dataset": ["ring8"], "seed": [0, 1, 2]},
    "fixed": {"steps": 40, "batch_size": 32, "log_every": 10, "checkpoint_every": 20},
    "eval": {"extractor": "modes", "num_samples": 500, "metrics": ["fid"]},
    "resources": {"cpu": 1},
}
METRIC = "frechet_inception_distance"


def quiet(_msg):
    pass


@pytest.fixture(scope="module")
def machines(tmp_path_factory):
    """results/merged/ as two machines left it: A finished seeds 0 and 1, B seeds 1 and 2 (each a
    part of the same suite, as when a suite is split over machines or a cluster stopped early)."""
    root = tmp_path_factory.mktemp("machines")
    path = root / "merged.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    out = {}
    for name, seeds in (("a", [0, 1]), ("b", [1, 2])):
        suite = load_suite(path)
        suite.grid = {**suite.grid, "seed": seeds}  # this machine's share; suite.yaml is the whole suite
        run_suite(suite, root / name, executor="serial", progress=False, log=quiet)
        out[name] = root / name / "merged"
    ids = {p.run_id: p.spec.seed for p in load_suite(path).plan_grid()}
    return out["a"], out["b"], ids


def clone(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def edit_record(sdir: Path, run_id: str, fn) -> None:
    p = sdir / "runs" / run_id / RECORD_NAME
    rec = json.loads(p.read_text())
    fn(rec)
    p.write_text(json.dumps(rec))


def seed_id(ids, seed: int) -> str:
    return next(rid for rid, s in ids.items() if s == seed)


def test_union_of_runs_overlap_once_idempotent_and_sources_untouched(machines, tmp_path):
    a, b, ids = machines
    before = {d: tree_digest(d) for d in (a, b)}
    out = tmp_path / "merged"
    log = merge_results(out, [a, b], log=quiet)

    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == sorted(ids)  # the union: seeds 0, 1, 2
    overlap = seed_id(ids, 1)
    assert log["counts"]["duplicates"] == 1 and log["counts"]["conflicts"] == 0 and log["counts"]["copied"] == 3
    assert log["duplicates"] == [{"run_id": overlap, "folders": [str(a), str(b)], "chosen": str(a)}]
    assert log["runs"][seed_id(ids, 2)]["from"] == str(b)
    assert json.loads((out / MERGE_LOG).read_text())["counts"] == log["counts"]
    # every run once in the merged table, its artifacts with it
    df = pd.read_parquet(out / "runs.parquet")
    assert sorted(df["run_id"]) == sorted(ids) and df["run_id"].is_unique and set(df["status"]) == {"done"}
    assert df[f"metric.final.{METRIC}"].notna().all()
    for rid in ids:
        assert (out / "runs" / rid / "checkpoints" / "latest.pt").is_file()
        assert (out / "runs" / rid / "samples" / "final.png").is_file()
    assert (out / "suite.yaml").read_bytes() == (a / "suite.yaml").read_bytes()
    assert not (out / ".merge-tmp").exists()
    # the sources are never modified
    assert {d: tree_digest(d) for d in (a, b)} == before
    # merging again changes nothing
    runs_digest = tree_digest(out / "runs")
    again = merge_results(out, [a, b], log=quiet)
    assert again["counts"]["copied"] == 0 and again["counts"]["unchanged"] == 3
    assert tree_digest(out / "runs") == runs_digest
    assert sorted(pd.read_parquet(out / "runs.parquet")["run_id"]) == sorted(ids)
    # the merged folder reads like any results folder
    assert main(["status", "merged", "--results", str(tmp_path)]) == 0
    # a merge interrupted mid-copy (a run missing, a half-copied folder left) finishes on the next one
    shutil.rmtree(out / "runs" / seed_id(ids, 2))
    (out / ".merge-tmp" / "half").mkdir(parents=True)
    assert merge_results(out, [a, b], log=quiet)["counts"]["copied"] == 1
    assert tree_digest(out / "runs") == runs_digest and not (out / ".merge-tmp").exists()


def test_conflict_is_refused_and_listed_then_resolved_with_prefer(machines, tmp_path):
    a, b0, ids = machines
    b = clone(b0, tmp_path / "b" / "merged")
    overlap = seed_id(ids, 1)
    mine = json.loads((a / "runs" / overlap / RECORD_NAME).read_text())["metrics"]["final"][METRIC]
    edit_record(b, overlap, lambda r: r["metrics"]["final"].update({METRIC: mine + 1.0}))
    out = tmp_path / "out"
    with pytest.raises(MergeError) as e:
        merge_results(out, [a, b], log=quiet)
    msg = str(e.value)
    assert "1 run(s) finished with different results" in msg and "--prefer" in msg
    assert overlap in msg and str(a) in msg and str(b) in msg and f"metrics.final.{METRIC}" in msg
    assert repr(mine) in msg and repr(mine + 1.0) in msg
    assert not out.exists()  # nothing was written
    # the command line says the same, exit code 2
    assert main(["merge", str(out), str(a), str(b)]) == 2

    log = merge_results(out, [a, b], prefer=[b], log=quiet)
    (c,) = log["conflicts"]
    assert c["run_id"] == overlap and c["chosen"] == str(b) and c["resolution"] == f"--prefer {b}"
    assert c["differences"] == [{"field": f"metrics.final.{METRIC}", "values": {str(a): mine, str(b): mine + 1.0}}]
    assert json.loads((out / MERGE_LOG).read_text())["conflicts"] == log["conflicts"]
    df = pd.read_parquet(out / "runs.parquet").set_index("run_id")
    assert df.loc[overlap, f"metric.final.{METRIC}"] == mine + 1.0 and len(df) == 3
    with pytest.raises(MergeError, match="not one of the folders"):
        merge_results(tmp_path / "out2", [a, b], prefer=[tmp_path], log=quiet)


def test_finished_copy_is_taken_over_a_failed_one(machines, tmp_path):
    a, b0, ids = machines
    b = clone(b0, tmp_path / "b" / "merged")
    overlap = seed_id(ids, 1)
    edit_record(b, overlap, lambda r: r.update(status="failed", reason="RuntimeError: node lost"))
    log = merge_results(tmp_path / "out", [b, a], log=quiet)  # b first: the failed copy would win by order
    assert log["runs"][overlap] == {"from": str(a), "status": "done"}
    assert log["finished_over_unfinished"] == [{"run_id": overlap, "chosen": str(a), "status": "done",
                                                "instead_of": {str(b): "failed"}}]
    assert log["counts"]["conflicts"] == 0
    assert json.loads((tmp_path / "out" / "runs" / overlap / RECORD_NAME).read_text())["status"] == "done"


def test_unfinished_copies_the_furthest_and_a_corrupt_one_loses(machines, tmp_path):
    a0, b0, ids = machines
    a, b = clone(a0, tmp_path / "a" / "merged"), clone(b0, tmp_path / "b" / "merged")
    s0, s1 = seed_id(ids, 0), seed_id(ids, 1)
    (b / "runs" / s0).mkdir()  # seed 0: running in A (20 D steps), failed in B (10): no result either way
    shutil.copy(a / "runs" / s0 / RECORD_NAME, b / "runs" / s0 / RECORD_NAME)
    edit_record(a, s0, lambda r: r.update(status="running", counts={"d_steps": 20, "g_steps": 20}))
    edit_record(b, s0, lambda r: r.update(status="failed", counts={"d_steps": 10, "g_steps": 10}))
    (b / "runs" / s1 / RECORD_NAME).write_text("{not json")  # seed 1: corrupt in B, done in A
    log = merge_results(tmp_path / "out", [b, a], log=quiet)
    assert log["runs"][s0] == {"from": str(a), "status": "running"}
    (u,) = log["unfinished"]
    assert u["run_id"] == s0 and u["copies"][str(b)] == {"status": "failed", "d_steps": 10}
    assert log["runs"][s1] == {"from": str(a), "status": "done"}
    assert {"run_id": s1, "chosen": str(a), "status": "done", "instead_of": {str(b): "corrupt"}} \
        in log["finished_over_unfinished"]
    df = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index("run_id")
    assert df.loc[s0, "status"] == "running" and df.loc[s1, "status"] == "done"


def test_a_different_suite_is_refused_naming_the_difference(machines, tmp_path, capsys):
    a, b0, _ = machines
    b = clone(b0, tmp_path / "b" / "merged")
    (b / "suite.yaml").write_text(yaml.safe_dump(changed(SUITE, fixed__steps=50), sort_keys=False))
    with pytest.raises(MergeError) as e:
        merge_results(tmp_path / "out", [a, b], log=quiet)
    msg = str(e.value)
    assert f"{a} and {b} hold different suites" in msg and "fixed.steps: 40" in msg and "vs 50" in msg
    assert main(["merge", str(tmp_path / "out"), str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganbench merge: error: ") and "fixed.steps" in err
    assert not (tmp_path / "out").exists()
    # a description or the resources (how a cluster schedules trials) are not the suite's meaning
    (b / "suite.yaml").write_text(yaml.safe_dump(changed(SUITE, description="on the GPU cluster",
                                                         resources={"cpu": 2, "gpu": 0.25}), sort_keys=False))
    assert merge_results(tmp_path / "out", [a, b], log=quiet)["counts"]["runs"] == 3


def test_a_different_semantics_version_is_refused(machines, tmp_path):
    a, b0, ids = machines
    b = clone(b0, tmp_path / "b" / "merged")
    old = TRAINING_SEMANTICS_VERSION - 1
    for rid in os.listdir(b / "runs"):
        edit_record(b, rid, lambda r: r["config"].update(semantics_version=old))
    with pytest.raises(MergeError, match=rf"different training-semantics versions.*version {TRAINING_SEMANTICS_VERSION}"
                                         rf".*version {old}") as e:
        merge_results(tmp_path / "out", [a, b], log=quiet)
    assert str(a) in str(e.value) and str(b) in str(e.value)


def test_out_must_be_new_or_a_merge_and_never_a_source(machines, tmp_path):
    a, b, _ = machines
    with pytest.raises(MergeError, match="merge never writes into its sources"):
        merge_results(a, [a, b], log=quiet)
    other = clone(a, tmp_path / "results" / "merged")  # a results folder `ganbench run` wrote
    with pytest.raises(MergeError, match="not written by ganbench merge"):
        merge_results(other, [b], log=quiet)
    with pytest.raises(MergeError, match="no such results folder"):
        merge_results(tmp_path / "out", [a, tmp_path / "nowhere"], log=quiet)


def test_new_records_say_where_they_were_made_and_old_records_still_collect(machines, tmp_path, capsys):
    a, _, ids = machines
    for rid in os.listdir(a / "runs"):
        env = json.loads((a / "runs" / rid / RECORD_NAME).read_text())["environment"]
        assert env["hostname"] == socket.gethostname() and env["ray_node_id"] is None  # no Ray in this process
    df = pd.read_parquet(a / "runs.parquet")
    assert set(df["env.hostname"]) == {socket.gethostname()} and df["env.ray_node_id"].isna().all()
    assert df["cost.device"].notna().all()
    # a record made before the provenance fields existed collects with nulls
    old = clone(a, tmp_path / "old")
    rid = sorted(os.listdir(old / "runs"))[0]
    edit_record(old, rid, lambda r: [r["environment"].pop(k) for k in ("hostname", "ray_node_id")])
    collect(old, log=quiet)
    df = pd.read_parquet(old / "runs.parquet").set_index("run_id")
    assert pd.isna(df.loc[rid, "env.hostname"]) and len(df) == 2 and df["env.hostname"].notna().sum() == 1
    # the merge log says which hosts and devices each folder's runs came from
    main(["merge", str(tmp_path / "out"), str(a)])
    assert "merged 2 runs from 1 folders" in capsys.readouterr().out
    src = json.loads((tmp_path / "out" / MERGE_LOG).read_text())["sources"][0]
    assert src["hosts"] == [socket.gethostname()] and src["runs"] == 2
