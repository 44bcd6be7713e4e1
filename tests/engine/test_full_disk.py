"""A full disk (ENOSPC) while writing a checkpoint or a record: the previous file stays intact
(atomic writes: a temporary file renamed over it only once complete and synced), the run ends
``failed`` with that reason, and a rerun resumes from the last whole checkpoint."""
import errno
import json
import os

import pytest
import torch

from bench.engine import read_checkpoint, train
from bench.validate import resolve

SPEC = {"dataset": "ring8", "steps": 40, "batch_size": 32, "log_every": 10, "checkpoint_every": 20,
        "eval": {"extractor": "none"}}


@pytest.fixture
def disk_full_for(monkeypatch):
    """``disk_full_for("latest.pt", after=1)``: fsync of the temporary file of that name fails
    with ENOSPC from its (after+1)-th write on -- the real atomic writer runs up to that point."""
    real = os.fsync
    state = {}

    def arm(name, after=0):
        state.update(name=name, after=after, seen=0)

    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))  # the temporary file: .NAME.xxxx.tmp
        if state and name.startswith(f".{state['name']}."):
            state["seen"] += 1
            if state["seen"] > state["after"]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    return arm


def leftovers(out):
    return [p for p in out.rglob("*.tmp")]


def test_full_disk_on_a_checkpoint_keeps_the_previous_one_and_fails_the_run(tmp_path, disk_full_for):
    spec = resolve("ns", SPEC)
    out = tmp_path / "run"
    disk_full_for("latest.pt", after=1)  # the step-20 checkpoint is written, the step-40 one is not
    rec = train(spec, out, progress=False)
    assert rec["status"] == "failed" and "No space left on device" in rec["reason"]
    ck = read_checkpoint(out, spec.run_id)
    assert ck["step"] == 20  # the previous checkpoint, whole
    assert json.loads((out / "record.json").read_text())["status"] == "failed"
    assert not leftovers(out)


def test_full_disk_on_the_final_record_keeps_the_previous_record_and_a_rerun_finishes(
        tmp_path, disk_full_for, monkeypatch):
    spec = resolve("ns", SPEC)
    out = tmp_path / "run"
    disk_full_for("record.json", after=1)  # the step-20 'running' record is written, later ones are not
    rec = train(spec, out, progress=False)
    assert rec["status"] == "failed" and "could not write record.json" in rec["reason"]
    assert "No space left on device" in rec["reason"]
    on_disk = json.loads((out / "record.json").read_text())  # the previous record, whole
    assert on_disk["status"] == "running" and on_disk["counts"]["d_steps"] == 20
    assert not leftovers(out)
    # space again: the rerun resumes and ends like an uninterrupted run
    disk_full_for("nothing-matches")
    again = train(spec, out, progress=False)
    assert again["status"] == "done"
    clean = train(spec, tmp_path / "clean", progress=False)
    a, b = read_checkpoint(out, spec.run_id), read_checkpoint(tmp_path / "clean", spec.run_id)
    for k in a["G"]:
        assert torch.equal(a["G"][k], b["G"][k]), k


def test_corrupt_checkpoint_restarts_from_scratch_and_says_so(tmp_path, capsys):
    spec = resolve("ns", SPEC)
    out = tmp_path / "run"
    train(spec, out, progress=False)
    rec = json.loads((out / "record.json").read_text())
    rec["status"] = "running"  # as if the process had died after its last checkpoint ...
    (out / "record.json").write_text(json.dumps(rec))
    ck = out / "checkpoints" / "latest.pt"
    ck.write_bytes(ck.read_bytes()[:100])  # ... which is truncated
    again = train(spec, out, progress=False)
    assert again["status"] == "done" and again["counts"]["d_steps"] == 40
    assert len(again["restarts"]) == 1 and "starting from scratch" in again["restarts"][0]
    assert "cannot resume" in capsys.readouterr().err
    events = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert "restart" in events
    # from scratch it ends exactly where a clean run ends
    clean = train(spec, tmp_path / "clean", progress=False)
    a, b = read_checkpoint(out, spec.run_id), read_checkpoint(tmp_path / "clean", spec.run_id)
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert clean["restarts"] == []
