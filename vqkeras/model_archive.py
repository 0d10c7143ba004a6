"""What a `.keras` file holds, read from its archive without importing Keras.

A launcher that only hands a model file to other processes (the Beam
engine's) checks it with `check_model_archive`: a clear error before any
work starts, in milliseconds instead of the seconds that importing a backend
and loading the weights take. The weights themselves are read by whoever
loads the model.
"""
import json
import os
import zipfile

from vqkeras.model_errors import ModelError, why_not_loadable, wrong_task
from vqkeras.tasks import task_of_class


def archive_task(path):
    """The task (`"qe"` or `"se"`) of the vqkeras model saved at `path`.

    Raises:
        vqkeras.model_errors.ModelError: `path` is missing, not a `.keras`
            archive, or holds something other than a vqkeras model; the
            message says what the file is.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise ModelError(why_not_loadable(path, ValueError("not a zip archive")))
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            config = json.loads(z.read("config.json")) if "config.json" in names else None
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ModelError(why_not_loadable(path, err)) from None
    if config is None:
        raise ModelError(why_not_loadable(path, KeyError("config.json")))
    if "model.weights.h5" not in names:
        raise ModelError(f"{path}: is a .keras archive without model.weights.h5")
    name = config.get("class_name") if isinstance(config, dict) else None
    module = str(config.get("module", "")) if isinstance(config, dict) else ""
    task = task_of_class(name)
    if task is None or not module.startswith("vqkeras."):
        raise ModelError(f"{path}: holds a {name or 'model of unknown class'}, not a vqkeras model")
    return task.name


def check_model_archive(path, task):
    """Raises `ModelError` unless `path` is a vqkeras `.keras` model for
    `task` (`"qe"` or `"se"`); see `archive_task`."""
    found = archive_task(path)
    if task is not None and found != task:
        raise wrong_task(path, found, task)
