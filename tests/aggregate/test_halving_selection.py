"""Successive halving in the tables: without a final phase, the best configuration is chosen
among the last rung's runs (the full budget), never among cheaper lower-rung or stopped runs."""
import pandas as pd

from bench.aggregate import select_rows


def test_search_only_cells_use_the_last_rung():
    col = "metric.best.frechet_inception_distance"
    rows = [  # config a: rung 0 only (stopped, best-looking score); b, c: promoted to rung 1 (the last of 2)
        {"search.phase": "wide", "search.config_id": "a", "search.rung": 0, "search.rungs": 2, "status": "stopped", col: 1.0},
        {"search.phase": "wide", "search.config_id": "b", "search.rung": 0, "search.rungs": 2, "status": "done", col: 2.0},
        {"search.phase": "wide", "search.config_id": "c", "search.rung": 0, "search.rungs": 2, "status": "done", col: 3.0},
        {"search.phase": "wide", "search.config_id": "b", "search.rung": 1, "search.rungs": 2, "status": "done", col: 9.0},
        {"search.phase": "wide", "search.config_id": "c", "search.rung": 1, "search.rungs": 2, "status": "done", col: 5.0},
    ]
    got, rule = select_rows(pd.DataFrame(rows), col, higher_is_better=False)
    assert list(got["search.config_id"]) == ["c"] and list(got["search.rung"]) == [1] and list(got[col]) == [5.0]
    assert "2 wide-search configurations" in rule


def test_collect_keeps_the_rung_fields():
    from bench.collect import record_row

    rec = {"run_id": "x", "keys": {"loss": "ns", "dataset": "ring8", "model": "mlp", "seed": 0, "suite": "s"},
           "status": "stopped", "config": {}, "metrics": {}, "cost": {}, "environment": {}, "counts": {},
           "search": {"phase": "wide", "config_id": "c", "sample": 3, "rung": 0, "rungs": 3, "promoted": False}}
    row = record_row(rec)
    assert row["search.rung"] == 0 and row["search.rungs"] == 3 and row["search.promoted"] is False
