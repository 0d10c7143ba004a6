"""Checking a model on the launcher before any Beam worker starts."""
from vqkeras.beam.paths import is_remote
from vqkeras.beam.saved_model_runner import SavedModelRunner, is_saved_model
from vqkeras.model_errors import ModelError


def check_model(model_path, task):
    """Raises `ModelError` now, on this machine, for a model the workers
    could not use for `task`.

    A local `.keras` file (or the bundled default, `model_path` None) is
    checked from its archive without importing a backend
    (`vqkeras.model_archive`), so the launcher stays light while the
    workers start; a SavedModel folder is opened with TensorFlow; an
    official checkpoint is converted and cached here, once (the workers
    then load the cached model); a remote file is left to the workers.
    """
    from vqkeras.checkpoint_cache import is_official_checkpoint
    from vqkeras.model_archive import check_model_archive
    from vqkeras.tasks import get_task

    if model_path and is_remote(model_path):
        return
    if model_path and is_saved_model(model_path):
        try:
            task_found = SavedModelRunner(model_path).task
        except Exception as err:
            raise ModelError(f"{model_path}: not a vqkeras SavedModel ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:200]})") from None
        if task_found != task:
            raise ModelError(f"{model_path}: is a {task_found} SavedModel, not a {task} model")
        return
    if model_path and is_official_checkpoint(model_path):
        from vqkeras.api import load_model

        load_model(model_path, task=task)
        return
    check_model_archive(model_path or get_task(task).bundled_path, task)
