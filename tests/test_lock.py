"""One driver per suite (bench.lock): a second driver refuses naming the holder (exit code 2) or
waits; a lock whose holder was SIGKILLed does not block the next driver; no run trains twice."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.errors import SuiteLocked
from bench.lock import LOCK_NAME, SuiteLock, holder
from bench.runner import run_suite
from bench.suite import load_suite

SUITE = {
    "name": "locked", "version": 1,
    "grid": {"loss": ["ns"], "dataset": ["ring8"], "seed": [0, 1]},
    "fixed": {"steps": 40, "batch_size": 32, "log_every": 10, "checkpoint_every": 20},
    "eval": {"extractor": "none"},
    "resources": {"cpu": 1},
}

HOLD = """
import sys, time
from bench.lock import SuiteLock
with SuiteLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(sdir: Path, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(sdir), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def suite_file(tmp_path) -> Path:
    p = tmp_path / "locked.yaml"
    p.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    return p


def test_second_driver_refuses_naming_the_holder(tmp_path):
    res = tmp_path / "results"
    p = hold(res / "locked", 60)
    try:
        with pytest.raises(SuiteLocked, match=rf"pid {p.pid} on host .*--wait"):
            run_suite(load_suite(suite_file(tmp_path)), res, executor="serial", progress=False, log=lambda m: None)
        assert not (res / "locked" / "runs").exists()  # nothing was trained
        # the command line says the same and exits with code 2
        cli = subprocess.run([sys.executable, "-m", "bench.cli", "run", str(suite_file(tmp_path)), "--results",
                              str(res), "--executor", "serial", "--no-report", "--no-progress"],
                             capture_output=True, text=True)
        assert cli.returncode == 2 and f"pid {p.pid}" in cli.stderr
    finally:
        p.kill()
        p.wait()


def test_wait_starts_when_the_holder_ends(tmp_path):
    sdir = tmp_path / "s"
    p = hold(sdir, 1.5)
    said = []
    t = time.monotonic()
    with SuiteLock(sdir, wait=True, poll_s=0.1, log=said.append):
        waited = time.monotonic() - t
        assert holder(sdir)["pid"] == os.getpid()
    p.wait()
    assert waited > 0.5 and any("waiting for" in m for m in said)
    assert holder(sdir) is None  # released: the file is emptied


def test_sigkilled_holder_leaves_no_lock(tmp_path):
    sdir = tmp_path / "s"
    p = hold(sdir, 60)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert holder(sdir)["pid"] == p.pid  # its note is still there ...
    said = []
    with SuiteLock(sdir, log=said.append):  # ... but the flock died with it
        pass
    assert any("stale" in m and str(p.pid) in m for m in said)


def test_lock_file_of_a_live_driver_on_another_host_counts(tmp_path):
    """On a shared filesystem flock may not reach across machines: the file's note decides."""
    sdir = tmp_path / "s"
    sdir.mkdir()
    note = {"host": "some-other-node", "pid": 12345, "started": time.time(), "heartbeat": time.time(),
            "command": "ganbench run x.yaml"}
    (sdir / LOCK_NAME).write_text(json.dumps(note))
    with pytest.raises(SuiteLocked, match="some-other-node"):
        SuiteLock(sdir).acquire()
    note["heartbeat"] = note["started"] = time.time() - 2 * 24 * 3600  # abandoned two days ago
    (sdir / LOCK_NAME).write_text(json.dumps(note))
    with SuiteLock(sdir, log=lambda m: None):
        assert holder(sdir)["pid"] == os.getpid()


def test_two_drivers_started_together_train_each_run_once(tmp_path):
    """A real race: whichever driver gets the suite trains it; the other refuses (exit 2) or,
    if it only got there after the first had ended, finds every run finished."""
    res, path = tmp_path / "results", suite_file(tmp_path)
    cmd = [sys.executable, "-m", "bench.cli", "run", str(path), "--results", str(res), "--executor", "serial",
           "--no-report", "--no-progress"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) in ([0, 2], [0, 0]), [o[1][-2000:] for o in outs]
    if 2 in codes:
        assert "is being run by" in outs[codes.index(2)][1]
    else:
        assert any("2 already finished" in err for _, err in outs)
    # every run trained exactly once: one start event per run folder
    runs = sorted((res / "locked" / "runs").iterdir())
    assert len(runs) == 2
    for r in runs:
        starts = [json.loads(line) for line in (r / "events.jsonl").read_text().splitlines()]
        assert [e["event"] for e in starts].count("start") == 1, r.name


def test_holder_refreshes_its_heartbeat(tmp_path):
    """A driver that runs longer than the stale limit keeps its lock: the heartbeat moves on while
    the start time stays; release stops the thread and empties the note."""
    sdir = tmp_path / "s"
    with SuiteLock(sdir, log=lambda m: None, heartbeat_s=0.05) as lock:
        first = holder(sdir)
        deadline = time.time() + 10
        while holder(sdir) is None or holder(sdir)["heartbeat"] == first["heartbeat"]:
            assert time.time() < deadline, "the heartbeat was never refreshed"
            time.sleep(0.02)
        now = holder(sdir)
        assert now["started"] == first["started"] and now["heartbeat"] > first["heartbeat"]
        assert now["pid"] == os.getpid()
        thread = lock._beat
    assert not thread.is_alive() and (sdir / LOCK_NAME).read_text() == ""
