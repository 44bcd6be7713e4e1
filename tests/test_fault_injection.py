"""Random faults against a real Ray suite (tests/fault_injection.py): the driver SIGKILLed at 5
random instants and 3 distinct trial workers at random instants, seeded; every run ends done
exactly once, with the table and curves of an uninterrupted run."""
import pytest

from fault_injection import campaign


@pytest.mark.slow
def test_random_driver_and_worker_kills_leave_the_table_unchanged(tmp_path):
    figures = campaign(tmp_path, seed=0, driver_kills=5, worker_kills=3, log=print)
    assert figures["driver_kills"] == 5
    assert figures["worker_kills"] == 3, figures  # three distinct trials lost their worker
    assert figures["runs"] == 6 and figures["table_identical"]
    assert figures["resumed_runs"] >= 1, figures  # some run resumed from a checkpoint, not only restarted
