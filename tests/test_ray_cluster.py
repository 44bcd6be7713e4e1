"""A suite run with `ganbench run --address` against a real two-node Ray cluster that the test starts
with `ray start` (a head and a worker, one CPU each): runs are spread over both nodes (the records'
Ray node ids), every run finishes exactly once, and the table equals an uninterrupted serial run."""
import pytest

from ray_cluster import run_on_cluster


@pytest.mark.slow
def test_suite_on_a_two_node_cluster_by_address(tmp_path):
    figures = run_on_cluster(tmp_path, log=print)
    assert figures["runs"] == 4 and figures["table_identical"]
    assert set(figures["runs_by_node"]) == {"head", "worker"}, figures  # both nodes trained runs
    assert sum(figures["runs_by_node"].values()) == 4
