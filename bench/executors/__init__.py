"""Executors: where and when units of runs train (serial in the driver, or Ray Tune trials).
One interface (``Executor.run``), registered by name in ``EXECUTORS``."""
from .base import EXECUTORS, FINISHED, RESUME_NAME, Executor, SuiteProgress, record_state, run_dir, train_planned  # noqa: F401
from . import ray_tune, serial  # noqa: E402,F401  (they register themselves)
