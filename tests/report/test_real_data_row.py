"""The "real data" row: real training images of mnist-5k scored like a generator (cached, no
run's score touched), present in the report's image tables and absent from 2-D ones."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from bench.config import EvalSpec
from bench.metrics import evaluate
from bench.metrics.floor import real_data_scores
from bench.report import write_report

SETTINGS = {"extractor": "classifier", "num_samples": 200, "kid_subset_size": 100, "metrics": ["fid", "kid", "prc"]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_floor_is_cached_and_below_noise(cache):
    a = real_data_scores("mnist-5k", SETTINGS, cache_dir=cache)
    assert a["cached"] is False and {"frechet_inception_distance", "density", "coverage"} <= set(a["values"])
    b = real_data_scores("mnist-5k", SETTINGS, cache_dir=cache)
    assert b["cached"] is True and b["values"] == a["values"]
    assert a["provenance"]["real_split"] == "train" and a["provenance"]["ref_split"] == "test"
    # uniform noise images score far worse than real training images
    g = torch.Generator().manual_seed(0)
    noise = evaluate(lambda n: torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g),
                     "mnist-5k", EvalSpec(**SETTINGS), cache_dir=cache)
    assert a["values"]["frechet_inception_distance"] < noise.values["frechet_inception_distance"] / 5


def test_too_many_samples_refused(cache):
    with pytest.raises(Exception, match="larger than"):
        real_data_scores("mnist-5k", {**SETTINGS, "num_samples": 10 ** 6, "num_real": 100}, cache_dir=cache)


def _runs():
    rows = []
    for loss, fid in [("ns", 30.0), ("wgan", 40.0)]:
        for seed in range(3):
            rows.append({"run_id": f"{loss}-{seed}", "loss": loss, "dataset": "mnist-5k", "seed": seed,
                         "status": "done", "metric.best.frechet_inception_distance": fid + seed,
                         "eval.extractor": "classifier", "eval.selection": "best-over-checkpoints",
                         "param.eval.extractor": "classifier", "param.eval.num_samples": 200,
                         "param.eval.kid_subset_size": 100, "param.eval.metrics": json.dumps(SETTINGS["metrics"])})
            rows.append({"run_id": f"{loss}-r-{seed}", "loss": loss, "dataset": "ring8", "seed": seed,
                         "status": "done", "metric.best.modes_covered": 4.0 + seed, "eval.extractor": "modes",
                         "eval.selection": "best-over-checkpoints", "param.eval.extractor": "modes"})
    return pd.DataFrame(rows)


def test_report_has_the_row(tmp_path, cache):
    res = tmp_path / "results" / "s"
    res.mkdir(parents=True)
    _runs().to_parquet(res / "runs.parquet")
    floor = real_data_scores("mnist-5k", SETTINGS, cache_dir=cache)["values"]["frechet_inception_distance"]
    paths = write_report(res, tmp_path / "reports", n_boot=100, cache_dir=cache)
    html = paths["html"].read_text()
    fid = html[html.index('id="summary-fid"'):]
    fid = fid[:fid.index("</table>")]
    assert "Real data (train vs test)" in fid and f"{floor:.1f}" in fid
    modes = html[html.index('id="summary-modes_covered"'):]
    assert "Real data" not in modes[:modes.index("</table>")]
    assert "Real data (train vs test)" in paths["latex"].read_text()
    # the runs' own numbers are untouched
    assert "31.0 ± 1.0" in fid
