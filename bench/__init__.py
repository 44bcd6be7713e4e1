"""ganbench: a benchmark suite for comparing GAN objectives fairly.

Data flows one way: suite file -> ``bench.suite`` (validated Suite) -> run specs (``bench.config``
plain dataclasses, resolved and validated by ``bench.validate``) -> an executor
(``bench.executors``: serial or Ray Tune) -> the engine (``bench.engine.train_unit``: one loop
driving a solo or a packed step kind) -> one record per run (``bench.results``) -> ``bench.collect``
(runs.parquet) -> ``bench.aggregate`` (cells) -> ``bench.report`` (HTML, LaTeX). Objectives,
datasets, architectures and feature extractors are registry entries (``bench.registry``), open to
plugins (``bench.plugins``); exceptions live in the leaf ``bench.errors``; metrics are declared
once in ``bench.metrics.catalogue``. Lower layers never import higher ones (tests/test_architecture.py)."""

__version__ = "0.1.0"

# Bumped whenever a change alters what a run computes (its numbers for a given config).
# It enters every run id, so results from older semantics are never mixed with new ones.
TRAINING_SEMANTICS_VERSION = 3  # 3: validation split held out of training and used for selection (eval.selection), LSGAN with ½ factors on sigmoid outputs (loss_params.form); 2: batch norm in BEGAN's autoencoder (per d_norm); per-run auxiliary losses
