"""The report states the tuning budget of every cell (results/<suite>/budget.json) and draws the
budget curves of searched datasets; it says so where the record is absent or the suite is a grid."""
from __future__ import annotations

import html as html_lib
import json
import re

import pandas as pd
import pytest

from conftest_report import make_results_dir

from bench.report import write_report


def _phase(configurations, runs, d_steps, planned, wall):
    return {"configurations": configurations, "runs": runs, "d_steps": d_steps, "d_steps_planned": planned,
            "wall_s": wall}


def _cell(loss, dataset, **phases):
    tot = {k: sum(p[k] for p in phases.values()) for k in ("runs", "d_steps", "d_steps_planned", "wall_s")}
    tot["configurations"] = sum(p["configurations"] for name, p in phases.items() if name != "final")
    return {"loss": loss, "dataset": dataset, "axes": "{}", "phases": phases, **tot}


# budget.json of conftest_report's synthetic results, as the runner writes it (bench.runner.budget_table):
# 1,000 D steps a run; MNIST LSGAN's seed 2 diverged at step 412; Ring-8 WGAN-GP's seed 2 failed;
# Fashion-MNIST: 4 searched configurations (NS GAN's third failed) and 3 final seeds.
CELLS = [
    _cell("ns", "mnist", grid=_phase(1, 3, 3000, 3000, 1980.0)),
    _cell("wgan-gp", "mnist", grid=_phase(1, 3, 3000, 3000, 1980.0)),
    _cell("lsgan", "mnist", grid=_phase(1, 3, 2412, 3000, 1900.0)),
    _cell("ns", "ring8", grid=_phase(1, 3, 3000, 3000, 1800.0)),
    _cell("wgan-gp", "ring8", grid=_phase(1, 2, 2000, 3000, 1200.0)),
    _cell("ns", "fashion-mnist", wide=_phase(4, 3, 3000, 4000, 1800.0), final=_phase(1, 3, 3000, 3000, 1800.0)),
    _cell("wgan", "fashion-mnist", wide=_phase(4, 4, 4000, 4000, 2400.0), final=_phase(1, 3, 3000, 3000, 1800.0)),
]


def write_budget(results, cells=CELLS, **top):
    doc = {"suite": "synthetic", "version": 3, "equal_budgets": True, "unequal_budgets": None, "halving": None,
           "metric": "frechet_inception_distance", "cells": cells, **top}
    (results / "budget.json").write_text(json.dumps(doc), encoding="utf-8")


def with_d_steps(results):
    runs = pd.read_parquet(results / "runs.parquet")
    runs["counts.d_steps"] = runs["status"].map({"done": 1000.0, "diverged": 412.0})
    runs.to_parquet(results / "runs.parquet", index=False)


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " | ", fragment))).strip()


def table_rows(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    cell = lambda c: html_lib.unescape(re.sub(r"<[^>]+>", "", re.sub(r'<span class="note">.*?</span>', "", c))).strip()
    return [[cell(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    results = make_results_dir(root / "results")
    with_d_steps(results)
    write_budget(results)
    paths = write_report(results, root / "reports", n_boot=200, real_data=False)
    return paths["html"].read_text(encoding="utf-8"), paths["latex"].read_text(encoding="utf-8")


def test_budget_table_per_dataset(report):
    page, _ = report
    assert table_rows(page, "budget-mnist-table") == [
        ["NS GAN", "1", "3", "3,000", "33.0 min"],
        ["LSGAN", "1", "3", "2,412", "31.7 min"],
        ["WGAN-GP", "1", "3", "3,000", "33.0 min"],
    ]
    assert "of 3,000 planned" in text_of(page.split('id="budget-mnist-table"')[1].split("</table>")[0])
    fm = table_rows(page, "budget-fashion-mnist-table")
    assert [r[:5] for r in fm] == [["NS GAN", "4", "6", "6,000", "60.0 min"], ["WGAN", "4", "7", "7,000", "70.0 min"]]
    assert fm[0][5] == ("wide: 4 configurations, 3 runs, 3,000 D steps of 4,000 planned; "
                        "final: 3 runs, 3,000 D steps")


def test_budget_sentences(report):
    page, _ = report
    text = text_of(page)
    assert ("Equal budgets: every objective on MNIST was given 1 configuration and 3,000 D steps in all (the "
            "suite is checked when it loads: objectives with different budgets are refused). D steps trained fall "
            "short of those planned where runs diverged, failed or have not finished: LSGAN.") in text
    assert "every objective on Fashion-MNIST was given 4 configurations and 7,000 D steps in all" in text
    assert "Wall time is recorded, not enforced" in text
    assert text.count("there is no budget curve") == 2  # MNIST and Ring-8: a grid, one configuration
    assert "Every objective was given the same tuning budget on each dataset" in text


def test_budget_curves_of_the_searched_dataset(report):
    page, _ = report
    assert re.findall(r'alt="budget curves on ([^"]+)"', page) == ["Fashion-MNIST"]
    caption = text_of(page.split('alt="budget curves on Fashion-MNIST">')[1].split("</p>")[0])
    assert "by configurations tried (left), by D steps spent (centre) and by wall seconds (right; machine-dependent)" in caption
    assert "Configurations per objective and phase (K): NS GAN wide 4; WGAN wide 4." in caption
    assert "No D-step curve" not in caption


def test_budget_table_in_latex(report):
    _, tex = report
    part = tex.split(r"\label{tab:budget}")[1].split(r"\end{table}")[0]
    assert "Fashion-MNIST & WGAN & 4 & 7 & 7,000 & 7,000 & 70.0 min" in part
    assert "MNIST & LSGAN & 1 & 3 & 2,412 & 3,000 & 31.7 min" in part


def test_unequal_budgets_are_said(tmp_path):
    results = make_results_dir(tmp_path / "results")
    cells = [dict(c) for c in CELLS]
    cells[6] = _cell("wgan", "fashion-mnist", wide=_phase(4, 4, 8000, 8000, 2400.0), final=_phase(1, 3, 6000, 6000, 1.0))
    write_budget(results, cells, equal_budgets=False, unequal_budgets="overrides.wgan.steps: steps differ")
    page = write_report(results, tmp_path / "reports", n_boot=100, real_data=False)["html"].read_text(encoding="utf-8")
    text = text_of(page)
    assert ("Budgets are not enforced equal: the suite sets allow_unequal_budgets: true (overrides.wgan.steps: "
            "steps differ); the objectives on Fashion-MNIST were given different budgets") in text
    assert "The objectives' tuning budgets differ on Fashion-MNIST" in text
    # the grid datasets are equal all the same
    assert "allow_unequal_budgets: true (overrides.wgan.steps: steps differ); here every objective on MNIST" in text


def test_results_without_budget_json(tmp_path):
    results = make_results_dir(tmp_path / "results")
    paths = write_report(results, tmp_path / "reports", n_boot=100, real_data=False)
    page = paths["html"].read_text(encoding="utf-8")
    text = text_of(page)
    assert "No budget.json in the results (made before budgets were recorded)" in text
    assert "budget-mnist-table" not in page
    # the curves read runs.parquet only; these runs record no D steps: no D-step curve, said so
    assert re.findall(r'alt="budget curves on ([^"]+)"', page) == ["Fashion-MNIST"]
    assert "No D-step curve for NS GAN, WGAN" in text
    assert "% The tuning budget per objective is not stated" in paths["latex"].read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_of_a_real_halving_suite(tmp_path):
    """A small suite with successive halving, trained by ganbench itself: its budget.json in the report."""
    from test_budget import HALVING

    from bench.runner import run_suite
    from bench.suite import suite_from_dict

    run_suite(suite_from_dict(HALVING), tmp_path / "results", executor="serial", progress=False, log=lambda m: None)
    page = write_report(tmp_path / "results" / "hv", tmp_path / "reports", n_boot=200,
                        real_data=False)["html"].read_text(encoding="utf-8")
    rows = table_rows(page, "budget-ring8-table")
    assert [r[:4] for r in rows] == [["NS GAN", "4", "7", "78"], ["LSGAN", "4", "7", "78"]]
    assert {r[5] for r in rows} == {"wide: 4 configurations (rungs: 4 × 6, 2 × 18), 6 runs, 60 D steps; "
                                    "final: 1 run, 18 D steps"}
    text = text_of(page)
    assert "Equal budgets: every objective on Ring-8 was given 4 configurations and 78 D steps in all" in text
    assert "chosen by its score on the validation split" in text and "No D-step curve" not in text
    assert re.findall(r'alt="budget curves on ([^"]+)"', page) == ["Ring-8"]
