"""Plugins: the example plugin package (examples/ganbench-example-plugin, installed with pip in the
test environment), entry points, a suite's ``imports:``, and where registry entries come from."""
import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from bench import plugins
from bench.errors import PluginError, RegistryError
from bench.losses import LOSSES
from bench.data import DATASETS

DIST = "ganbench-example-plugin"


def cli(*args, env=None, **kw):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True, env=e, **kw)


def test_example_plugin_is_installed():
    from importlib.metadata import distribution

    eps = [ep for ep in distribution(DIST).entry_points if ep.group == plugins.GROUP]
    assert [ep.value for ep in eps] == ["ganbench_example"], (
        "install it: .venv/bin/pip install -e '.[test]' -e examples/ganbench-example-plugin")


# ---- listing and sources --------------------------------------------------------------------
def test_list_losses_shows_the_plugin_objective_with_its_source():
    r = cli("list", "losses", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["example-rsgan"]["source"] == f"{DIST} (ganbench_example.rsgan)"
    assert rows["ns"]["source"] == "builtin"
    assert "arXiv:1807.00734" in rows["example-rsgan"]["citation"]
    text = cli("list", "losses").stdout
    assert f"source: {DIST} (ganbench_example.rsgan)" in text


def test_list_datasets_and_models_show_sources():
    rows = {row["name"]: row for row in json.loads(cli("list", "datasets", "--json").stdout)}
    assert rows["example-npz"]["source"] == f"{DIST} (ganbench_example.npz)"
    assert rows["ring8"]["source"] == "builtin"
    assert all(row["source"] == "builtin" for row in json.loads(cli("list", "models", "--json").stdout))


def test_entry_points_load_lazily_on_the_first_registry_query():
    code = textwrap.dedent("""
        import sys
        from bench.losses import LOSSES
        assert "ganbench_example" not in sys.modules
        assert "example-rsgan" in LOSSES
        assert "ganbench_example" in sys.modules
        print(LOSSES.source("example-rsgan"))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{DIST} (ganbench_example.rsgan)"


def test_plugin_imported_before_ganbench_causes_no_import_cycle():
    """The plugin imports ganbench, which loads the entry point -- the plugin itself, half
    imported: it registers once, and its source still names its distribution."""
    code = "import ganbench_example\nfrom bench.losses import LOSSES\nprint(LOSSES.source('example-rsgan'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{DIST} (ganbench_example.rsgan)"


def test_builtin_sources():
    assert LOSSES.source("wgan") == "builtin" and LOSSES.origin("wgan").module == "bench.losses.wgan"
    assert DATASETS.origin("ring8").module == "bench.data.toy"


# ---- errors ---------------------------------------------------------------------------------
def test_duplicate_name_from_a_module_names_both_sources(tmp_path, monkeypatch):
    (tmp_path / "dup_ns_plugin.py").write_text(textwrap.dedent("""
        from bench.losses import LOSSES
        from bench.losses.ns import NonSaturating

        @LOSSES.register("ns")
        class Again(NonSaturating):
            \"\"\"The same name again.\"\"\"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError) as e:
        plugins.load_plugins(["dup_ns_plugin"], where="s.yaml: imports")
    msg = str(e.value)
    assert "'ns'" in msg and "builtin (bench.losses.ns)" in msg and "dup_ns_plugin" in msg, msg
    assert LOSSES.get("ns").__module__ == "bench.losses.ns"  # the built-in entry is untouched


class FakeEntryPoint:
    def __init__(self, name, value, dist):
        self.name, self.value, self.dist = name, value, SimpleNamespace(name=dist)

    def load(self):
        import importlib

        return importlib.import_module(self.value)


def test_duplicate_name_from_an_entry_point_names_both_distributions(tmp_path, monkeypatch):
    (tmp_path / "dup_rsgan_plugin.py").write_text(textwrap.dedent("""
        from bench.losses import LOSSES
        from ganbench_example.rsgan import RSGAN

        LOSSES.add("example-rsgan", RSGAN)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "example-rsgan" in LOSSES  # the installed plugin is loaded first
    monkeypatch.setattr(plugins, "_done", False)
    monkeypatch.setattr(plugins, "_entry_points", lambda: [FakeEntryPoint("dup", "dup_rsgan_plugin", "other-dist")])
    with pytest.raises(RegistryError) as e:
        plugins.load_entry_points()
    msg = str(e.value)
    assert f"{DIST} (ganbench_example.rsgan)" in msg and "other-dist (dup_rsgan_plugin)" in msg, msg


def test_failing_entry_point_names_it_and_its_distribution(monkeypatch):
    monkeypatch.setattr(plugins, "_done", False)
    monkeypatch.setattr(plugins, "_entry_points", lambda: [FakeEntryPoint("broken", "nosuch_plugin_mod", "broken-dist")])
    with pytest.raises(PluginError) as e:
        LOSSES.names()
    msg = str(e.value)
    assert "'broken'" in msg and "broken-dist" in msg and "nosuch_plugin_mod" in msg and "ModuleNotFoundError" in msg
    with pytest.raises(PluginError, match="broken-dist"):  # every later query says so again
        "ns" in LOSSES


def test_load_plugins_names_the_module_and_the_key():
    with pytest.raises(PluginError) as e:
        plugins.load_plugins(["nosuch_mod_xyz"], where="suites/x.yaml: imports")
    assert str(e.value).startswith("suites/x.yaml: imports: cannot import 'nosuch_mod_xyz' (ModuleNotFoundError")


# ---- the example objective ------------------------------------------------------------------
def test_rsgan_losses_on_fixed_logits():
    from ganbench_example.rsgan import RSGAN
    from bench.losses import DOut, StepCtx

    obj = LOSSES.get("example-rsgan")()
    assert isinstance(obj, RSGAN) and obj.defaults["optim"] == {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
    scores = {"r": torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64),
              "f": torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)}

    def D(x):  # x is a tag tensor: 1 = real batch, 0 = fake batch
        return DOut(scores["r"] if bool(x[0]) else scores["f"])

    real, fake = torch.ones(3), torch.zeros(3)
    ctx = StepCtx()
    d_loss, logs = obj.d_loss(D, real, fake, ctx)
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731  softplus
    # differences C(x_r) - C(x_f): 2, -2, 0
    want_d = np.mean([sp(-2.0), sp(2.0), sp(0.0)])
    want_g = np.mean([sp(2.0), sp(-2.0), sp(0.0)])
    assert d_loss.item() == pytest.approx(want_d, rel=1e-12)
    assert logs["d_real"].item() == pytest.approx(0.5) and logs["d_fake"].item() == pytest.approx(0.5)
    g_loss, _ = obj.g_loss(D, fake, ctx)
    assert g_loss.item() == pytest.approx(want_g, rel=1e-12)
    # asymmetric case: differences 1, 3 -> D: mean(sp(-1), sp(-3)); G: mean(sp(1), sp(3))
    scores.update(r=torch.tensor([1.0, 2.0], dtype=torch.float64), f=torch.tensor([0.0, -1.0], dtype=torch.float64))
    ctx = StepCtx()
    d_loss, _ = obj.d_loss(D, torch.ones(2), torch.zeros(2), ctx)
    g_loss, _ = obj.g_loss(D, torch.zeros(2), ctx)
    assert d_loss.item() == pytest.approx(np.mean([sp(-1.0), sp(-3.0)]), rel=1e-12)
    assert g_loss.item() == pytest.approx(np.mean([sp(1.0), sp(3.0)]), rel=1e-12)


def test_rsgan_losses_reduce_over_the_sample_axis_only():
    from ganbench_example.rsgan import rsgan_d_loss, rsgan_g_loss

    dr, df = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    for fn in (rsgan_d_loss, rsgan_g_loss):
        packed = fn(dr, df)
        assert packed.shape == (3,)
        assert torch.allclose(packed, torch.stack([fn(dr[k], df[k]) for k in range(3)]), rtol=1e-12, atol=0)


def test_rsgan_generator_gradient_flows_only_through_the_fake_scores():
    from bench.losses import DOut, StepCtx

    obj = LOSSES.get("example-rsgan")()
    w = torch.tensor(1.5, requires_grad=True)
    fake = torch.tensor([0.3, -0.2], requires_grad=True)
    ctx = StepCtx()
    obj.d_loss(lambda x: DOut(w * x), torch.tensor([1.0, 2.0]), fake.detach(), ctx)
    g_loss, _ = obj.g_loss(lambda x: DOut(w * x), fake, ctx)
    g_loss.backward()
    # dL_G/dfake_i = -sigmoid(-(w f_i - w r_i)) * w / n
    r = torch.tensor([1.0, 2.0])
    want = -torch.sigmoid(-(1.5 * fake.detach() - 1.5 * r)) * 1.5 / 2
    assert torch.allclose(fake.grad, want)


# ---- the example dataset --------------------------------------------------------------------
def points(n, seed):
    rng = np.random.RandomState(seed)
    ang = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(ang), np.sin(ang)], 1).astype(np.float32) + 0.01 * rng.randn(n, 2).astype(np.float32)


def test_example_npz_reads_an_npz_from_the_data_root(tmp_path):
    from bench.data import load

    np.savez(tmp_path / "example-npz.npz", train=points(300, 0), test=points(100, 1))
    tr, te = load("example-npz", "train", root=tmp_path), load("example-npz", "test", root=tmp_path)
    assert tr.x.shape == (300, 2) and te.x.shape == (100, 2) and tr.x.dtype == torch.float32
    assert torch.equal(tr.x, torch.from_numpy(points(300, 0))) and int(tr.y.abs().sum()) == 0


def test_example_npz_reads_an_npy_named_by_the_environment(tmp_path, monkeypatch):
    from ganbench_example.npz import load as npz_load

    f = tmp_path / "elsewhere.npy"
    np.save(f, points(50, 2))
    monkeypatch.setenv("GANBENCH_EXAMPLE_NPZ", str(f))
    x_tr, _ = npz_load("train", tmp_path / "unused")
    x_te, _ = npz_load("test", tmp_path / "unused")
    assert len(x_tr) == 45 and len(x_te) == 5 and torch.equal(torch.cat([x_tr, x_te]), torch.from_numpy(points(50, 2)))
    monkeypatch.setenv("GANBENCH_EXAMPLE_NPZ", str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError, match="GANBENCH_EXAMPLE_NPZ"):
        npz_load("train", tmp_path)


# ---- suites ---------------------------------------------------------------------------------
SUITE = {
    "name": "plug", "version": 1,
    "grid": {"loss": ["example-rsgan", "ns"], "dataset": ["example-npz"], "seed": [0]},
    "fixed": {"steps": 20, "batch_size": 32, "log_every": 10, "checkpoint_every": 10},
    "eval": {"extractor": "modes", "metrics": ["fid"], "num_samples": 100},
    "resources": {"cpu": 1},
}


def write_suite(tmp_path, d=SUITE, name="plug.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    np.savez(tmp_path / "example-npz.npz", train=points(500, 0), test=points(200, 1))
    return p


def run_and_report(tmp_path, executor, *extra, env=None):
    p = write_suite(tmp_path)
    res, rep = tmp_path / f"res-{executor}", tmp_path / f"rep-{executor}"
    r = cli("run", str(p), "--executor", executor, "--results", str(res), "--reports", str(rep),
            "--data-root", str(tmp_path), "--no-progress", *extra, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    df = pd.read_parquet(res / "plug" / "runs.parquet")
    assert sorted(df["loss"]) == ["example-rsgan", "ns"] and set(df["status"]) == {"done"}, df[["loss", "status", "reason"]]
    assert df["metric.final.frechet_inception_distance"].notna().all()
    html = (rep / "plug" / "index.html").read_text()
    assert "example-rsgan" in html
    return df


def test_plugin_suite_runs_serially_and_appears_in_the_report(tmp_path):
    run_and_report(tmp_path, "serial")


@pytest.mark.slow
def test_plugin_suite_runs_under_ray_and_matches_serial(tmp_path):
    """Ray workers load the entry-point plugin themselves (on their first registry query)."""
    a = run_and_report(tmp_path, "serial")
    b = run_and_report(tmp_path, "ray", "--max-concurrent", "2")
    cols = ["run_id", "loss", "status", "metric.final.frechet_inception_distance"]
    pd.testing.assert_frame_equal(a[cols].sort_values("run_id").reset_index(drop=True),
                                  b[cols].sort_values("run_id").reset_index(drop=True))


ONE_OFF = textwrap.dedent('''
    """A one-off objective registered from a suite's imports."""
    from bench.losses import LOSSES
    from bench.losses.ns import NonSaturating


    @LOSSES.register("example-oneoff-ns")
    class OneOff(NonSaturating):
        """The non-saturating GAN under another name (a one-off plugin for tests)."""

        name = "example-oneoff-ns"
''')


def one_off_suite(tmp_path):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "oneoff_objective.py").write_text(ONE_OFF)
    d = json.loads(json.dumps(SUITE))
    d.update(name="oneoff", imports=["oneoff_objective"])
    d["grid"]["loss"] = ["example-oneoff-ns"]
    return write_suite(tmp_path, d, "oneoff.yaml"), {"PYTHONPATH": str(tmp_path / "mods")}


def test_suite_imports_register_a_one_off_objective(tmp_path):
    p, env = one_off_suite(tmp_path)
    code = (f"from bench.suite import load_suite\ns = load_suite({str(p)!r})\n"
            f"from bench.losses import LOSSES\nprint(s.imports, s.count(), LOSSES.source('example-oneoff-ns'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['oneoff_objective'] 1 oneoff_objective"
    r = cli("run", str(p), "--executor", "serial", "--results", str(tmp_path / "res"), "--no-report",
            "--data-root", str(tmp_path), "--no-progress", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    df = pd.read_parquet(tmp_path / "res" / "oneoff" / "runs.parquet")
    assert list(df["loss"]) == ["example-oneoff-ns"] and list(df["status"]) == ["done"]


@pytest.mark.slow
def test_suite_imports_load_in_ray_workers(tmp_path):
    """A module named only in the suite's imports (not an installed entry point) is imported in
    each Ray trial before the trial builds its run specs."""
    p, env = one_off_suite(tmp_path)
    r = cli("run", str(p), "--executor", "ray", "--results", str(tmp_path / "res"), "--no-report",
            "--data-root", str(tmp_path), "--no-progress", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    df = pd.read_parquet(tmp_path / "res" / "oneoff" / "runs.parquet")
    assert len(df) == 1, r.stderr[-3000:]
    assert list(df["loss"]) == ["example-oneoff-ns"] and list(df["status"]) == ["done"], df[["status", "reason"]]


@pytest.mark.parametrize("imports,needle", [
    (["nosuch_module"], "imports: cannot import 'nosuch_module' (ModuleNotFoundError"),
    ("nosuch_module", "imports: expected a list of module names"),
    ([3], "imports: expected a list of module names"),
])
def test_suite_with_bad_imports_is_refused_before_any_run(tmp_path, imports, needle):
    d = {**SUITE, "imports": imports}
    p = write_suite(tmp_path, d, "bad.yaml")
    res = tmp_path / "res"
    r = cli("run", str(p), "--executor", "serial", "--results", str(res), "--no-report", "--no-progress")
    assert r.returncode == 2, r.stderr
    assert str(p) in r.stderr and needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not res.exists()
