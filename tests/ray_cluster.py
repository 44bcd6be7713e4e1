"""A real two-node Ray cluster on one machine, started with ``ray start`` (a head and a worker, one
CPU each, separate process groups), for running a suite with ``ganbench run --address``.

By hand, the suite on the cluster with the worker node killed mid-suite:

    python tests/ray_cluster.py --work /tmp/cluster --kill-worker-after 40

It prints which node trained which run (the records' ``environment.ray_node_id``) and checks every
run finished exactly once with the table of an uninterrupted serial run. Run it inside a
loopback-only network namespace where Ray's start-up probes of cloud metadata would hang.
``tests/test_ray_cluster.py`` runs the suite on such a cluster (no kill) in CI."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fault_injection import check  # noqa: E402  (the same exactly-once and same-table checks)

SUITE = {
    "name": "cluster", "version": 1,
    "grid": {"loss": ["ns", "lsgan"], "dataset": ["ring8"], "seed": [0, 1]},
    "fixed": {"steps": 600, "batch_size": 64, "log_every": 50, "checkpoint_every": 100},
    "eval": {"extractor": "modes", "every": 300, "num_samples": 500, "metrics": []},
    "resources": {"cpu": 1},
}
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray() -> str:
    return str(Path(sys.executable).with_name("ray"))


class Cluster:
    """``ray start --head`` and one ``ray start --address`` worker, each in its own process group,
    with a private temp dir (so stopping it never touches another Ray on the machine)."""

    def __init__(self, cpus_per_node: int = 1):
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = tempfile.mkdtemp(prefix="gbray-", dir="/tmp")  # short: Ray's socket paths have a length limit
        self.env = dict(os.environ, **RAY_ENV)
        self.cpus = cpus_per_node
        self.groups: Dict[str, int] = {}

    def _start(self, name: str, args: List[str]) -> None:
        proc = subprocess.Popen([_ray(), "start", *args, "--num-cpus", str(self.cpus), "--temp-dir", self.temp,
                                 "--object-store-memory", str(200 * 2**20), "--disable-usage-stats"],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        out, _ = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start ({name}) failed:\n{out.decode(errors='replace')[-3000:]}")
        self.groups[name] = proc.pid  # its daemons stay in the process group the command led

    def start(self) -> "Cluster":
        self._start("head", ["--head", "--port", str(self.port), "--include-dashboard", "false",
                             "--resources", json.dumps({"head_node": 1})])
        self._start("worker", ["--address", self.address, "--resources", json.dumps({"worker_node": 1})])
        return self

    def nodes(self) -> Dict[str, str]:
        """node id -> 'head' or 'worker' (by the custom resource each node was started with)."""
        code = ("import json, ray; ray.init(address=%r, log_to_driver=False); "
                "print(json.dumps([[n['NodeID'], n['Alive'], n['Resources']] for n in ray.nodes()]))" % self.address)
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        return {nid: ("head" if "head_node" in res else "worker") for nid, alive, res in rows
                if "head_node" in res or "worker_node" in res}

    def kill(self, name: str) -> None:
        try:
            os.killpg(self.groups.pop(name), signal.SIGKILL)
        except (KeyError, ProcessLookupError):
            pass

    def stop(self) -> None:
        for name in list(self.groups):
            self.kill(name)


def run_on_cluster(work: Path, kill_worker_after: Optional[float] = None, log=print) -> Dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    suite = work / "cluster.yaml"
    suite.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    env = dict(os.environ, **RAY_ENV, PYTHONPATH=str(HERE.parent))
    base = [sys.executable, "-m", "bench.cli", "run", str(suite), "--no-report", "--no-progress"]
    ref = work / "reference"
    if not (ref / "cluster" / "runs.parquet").exists():
        subprocess.run(base + ["--executor", "serial", "--results", str(ref)], env=env, check=True,
                       capture_output=True)
    cluster = Cluster().start()
    try:
        nodes = cluster.nodes()
        log(f"cluster at {cluster.address}: " + ", ".join(f"{v} {k[:8]}" for k, v in sorted(nodes.items(),
                                                                                          key=lambda kv: kv[1])))
        t0 = time.time()
        with open(work / "driver.log", "wb") as out:
            drv = subprocess.Popen(base + ["--executor", "ray", "--address", cluster.address, "--results",
                                           str(work / "results"), "--storage", str(work / "storage")],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
            killed_at = None
            while drv.poll() is None:
                if kill_worker_after is not None and killed_at is None and time.time() - t0 >= kill_worker_after:
                    cluster.kill("worker")
                    killed_at = time.time() - t0
                    log(f"worker node killed at {killed_at:.1f} s")
                time.sleep(0.2)
        text = (work / "driver.log").read_text(errors="replace")
        assert drv.returncode == 0, f"the suite on the cluster failed (exit {drv.returncode}):\n{text[-3000:]}"
    finally:
        cluster.stop()
    by_node: Dict[str, int] = {}
    for rec in (work / "results" / "cluster" / "runs").glob("*/record.json"):
        nid = json.loads(rec.read_text()).get("environment", {}).get("ray_node_id")
        where = nodes.get(nid, f"unknown node {str(nid)[:8]}")
        by_node[where] = by_node.get(where, 0) + 1
    figures = {"address": cluster.address, "wall_s": round(time.time() - t0, 1), "runs_by_node": by_node,
               "worker_killed_at_s": killed_at}
    figures.update(check(ref / "cluster", work / "results" / "cluster"))
    log(json.dumps(figures))
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--kill-worker-after", type=float, help="SIGKILL the worker node's processes after S seconds")
    a = ap.parse_args(argv)
    run_on_cluster(a.work, a.kill_worker_after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
