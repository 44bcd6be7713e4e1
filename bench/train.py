"""train(spec) -> record: one GAN training run, a plain function (the engine in bench/engine
does the work; this module is its face for the command line and for users' scripts)."""
from __future__ import annotations

from .engine import Run, environment, make_record, read_checkpoint, train, train_unit  # noqa: F401
from .engine.record import device_name  # noqa: F401

__all__ = ["train", "train_unit", "Run", "read_checkpoint", "make_record", "environment", "device_name"]
