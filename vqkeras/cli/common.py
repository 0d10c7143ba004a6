"""Helpers shared by the command modules: models and paths as usage errors."""
import os

from vqkeras.cli.usage_error import UsageError


def load_model_or_exit(path, task):
    """Loads a model for a command; a bad model file is a usage error."""
    from vqkeras.api import ModelError, load_model
    try:
        return load_model(path, task=task)
    except ModelError as err:
        raise UsageError(str(err)) from None


def require_audio(files, errors):
    """A usage error (exit 2) when the arguments name no audio file at all."""
    if not files:
        raise UsageError("; ".join(message for _, message in errors) or "no audio files found")


def output_folder_ready(path, what="output"):
    """Creates the folder that will hold `path`; a usage error if it cannot."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the folder of {what} {path}: "
                         f"{err.strerror or err}") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {what} {path}: {folder} is not writable")
