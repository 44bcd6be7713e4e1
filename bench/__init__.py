"""ganbench: a benchmark suite for comparing GAN objectives fairly."""

__version__ = "0.1.0"

# Bumped whenever a change alters what a run computes (its numbers for a given config).
# It enters every run id, so results from older semantics are never mixed with new ones.
TRAINING_SEMANTICS_VERSION = 2  # 2: batch norm in BEGAN's autoencoder (per d_norm); per-run auxiliary losses
