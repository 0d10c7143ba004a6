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

# model class -> task, for the classes vqkeras writes
_TASKS = {"VQScoreModel": "qe", "VQEnhancerModel": "se"}


def archive_task(path):
    """The task (`"qe"` or `"se"`) of the vqkeras model saved at `path`.

    Raises:
        vqkeras.api.ModelError: `path` is missing, not a `.keras` archive,
            or holds something other than a vqkeras model; the message says
            what the file is.
    """
    from vqkeras.api import ModelError, _why_not_loadable

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise ModelError(_why_not_loadable(path, ValueError("not a zip archive")))
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            config = json.loads(z.read("config.json")) if "config.json" in names else None
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ModelError(_why_not_loadable(path, err)) from None
    if config is None:
        raise ModelError(_why_not_loadable(path, KeyError("config.json")))
    if "model.weights.h5" not in names:
        raise ModelError(f"{path}: is a .keras archive without model.weights.h5")
    name = config.get("class_name") if isinstance(config, dict) else None
    module = str(config.get("module", "")) if isinstance(config, dict) else ""
    if name not in _TASKS or not module.startswith("vqkeras."):
        raise ModelError(f"{path}: holds a {name or 'model of unknown class'}, not a vqkeras model")
    return _TASKS[name]


def check_model_archive(path, task):
    """Raises `vqkeras.api.ModelError` unless `path` is a vqkeras `.keras`
    model for `task` (`"qe"` or `"se"`); see `archive_task`."""
    from vqkeras.api import wrong_task

    found = archive_task(path)
    if task is not None and found != task:
        raise wrong_task(path, found, task)
