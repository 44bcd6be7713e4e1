"""The latent-prior suite (suites/latent-prior.yaml): z_dist as a grid axis runs end to end, and the
report shows per-class recall for each prior side by side."""
from pathlib import Path

import pandas as pd
import yaml

from bench.report import write_report
from bench.runner import run_suite
from bench.suite import load_suite

SUITE = Path(__file__).resolve().parents[1] / "suites" / "latent-prior.yaml"


def test_z_dist_axis_runs_and_the_report_compares_per_class_recall(tmp_path):
    d = yaml.safe_load(SUITE.read_text())
    d["grid"].update(loss=["ns"], seed=[0])
    d["fixed"].update(steps=30, checkpoint_every=30, log_every=10)
    d["eval"].update(every=30, num_samples=500)
    path = tmp_path / "latent-prior.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    out = run_suite(load_suite(path), tmp_path / "results", executor="serial", progress=False, log=lambda m: None)
    runs = pd.read_parquet(Path(out["results"]) / "runs.parquet")
    assert sorted(runs["param.z_dist"]) == ["mixture", "normal"] and (runs["status"] == "done").all()
    assert runs["metric.best.per_class_recall_min"].notna().all()
    paths = write_report(Path(out["results"]), tmp_path / "reports" / "latent-prior")
    html = Path(paths["html"]).read_text()
    assert 'id="summary-per_class_recall_min"' in html
    section = html.split('id="summary-per_class_recall_min"')[1].split("</table>")[0]
    assert "normal" in section and "mixture" in section  # one column per prior
