"""`ganbench report A --vs B`: two suites compared cell by cell, differences with their bootstrap
interval, different training semantics flagged."""
import numpy as np
import pandas as pd
import pytest

from bench.report.vs import compare_suites, write_vs
from conftest_report import base_row

FID = "metric.best.frechet_inception_distance"


def runs(values: dict, version=3) -> pd.DataFrame:
    rows = []
    for loss, vals in values.items():
        for seed, v in enumerate(vals):
            rows.append(base_row(f"{loss}-{seed}-{v}", loss, "mnist", seed, **{FID: v, "param.semantics_version": version}))
    return pd.DataFrame(rows)


def test_differences_and_their_intervals():
    a = runs({"ns": [10.0, 11.0, 12.0], "wgan": [30.0, 31.0, 32.0], "lsgan": [5.0, 6.0]})
    b = runs({"ns": [10.0, 11.0, 12.0], "wgan": [20.0, 21.0, 22.0], "lsgan": [5.0, 6.0]})
    cells, note = compare_suites(a, b)
    assert note == ""
    c = cells.set_index("loss")
    assert c.loc["ns", "diff"] == 0.0 and c.loc["ns", "verdict"] == "no difference shown"
    # wgan: every resampled mean of A lies in [30, 32], of B in [20, 22]: the difference is in [8, 12]
    assert c.loc["wgan", "diff"] == pytest.approx(10.0)
    assert 8.0 <= c.loc["wgan", "lo"] <= c.loc["wgan", "hi"] <= 12.0
    assert c.loc["wgan", "verdict"] == "B better"  # lower FID is better
    assert c.loc["lsgan", "verdict"].startswith("too few seeds")
    assert "31" in c.loc["wgan", "a"] and "21" in c.loc["wgan", "b"]  # both sides' mean ± std


def test_different_semantics_are_flagged_never_marked(tmp_path):
    a = runs({"wgan": [30.0, 31.0, 32.0]}, version=3)
    b = runs({"wgan": [20.0, 21.0, 22.0]}, version=2)
    cells, note = compare_suites(a, b)
    assert "version 3" in note and "B 2" in note
    assert cells.iloc[0]["verdict"] == "not comparable (semantics)"
    paths = write_vs(tmp_path, "after", "before", cells, note)
    md = paths["markdown"].read_text()
    assert "| FID" in md and "not comparable (semantics)" in md and "Different training semantics" in md
    assert "<table>" in paths["html"].read_text()
    assert np.isfinite(cells.iloc[0]["lo"])
