"""A suite of about one minute's work: Ray Tune with 2 parallel trials against the serial
executor on this machine, one round each (target ratio <= 0.8, asserted < 1.0). Ray runs in a
subprocess, as a user's `ganbench run` does."""
import subprocess
import sys
import time

import yaml

SUITE = {
    "name": "perf", "version": 1,
    "grid": {"loss": ["ns", "lsgan"], "dataset": ["mnist-5k"], "seed": [0, 1]},
    "fixed": {"model": "dcgan", "model_params": {"width": 16}, "batch_size": 64, "steps": 800,
              "log_every": 100, "checkpoint_every": 800},
    "eval": {"extractor": "none"},
    "resources": {"cpu": 1},
}


def run(path, results, executor):
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "bench.cli", "run", str(path), "--executor", executor, "--results",
                        str(results), "--no-report", "--no-progress", "--max-concurrent", "2"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    return time.perf_counter() - t


def test_ray_two_trials_vs_serial(benchmark, tmp_path):
    path = tmp_path / "perf.yaml"
    path.write_text(yaml.safe_dump(SUITE))
    t_serial = run(path, tmp_path / "serial", "serial")
    t_ray = benchmark.pedantic(lambda: run(path, tmp_path / "ray", "ray"), rounds=1, iterations=1)
    t_ray = benchmark.stats.stats.min
    ratio = t_ray / t_serial
    benchmark.extra_info.update({"serial_s": t_serial, "ray_s": t_ray, "ray/serial": ratio})
    print(f"\nsuite of 4 runs: serial {t_serial:.1f} s, ray (2 trials) {t_ray:.1f} s, ratio {ratio:.2f}")
    assert ratio < 1.0
