"""Official VQScore checkpoints used directly as models: converted on first
use (as `vqkeras convert` does) and cached as `.keras`.

The converted model is written beside the checkpoint
(`CHECKPOINT.pkl.vqkeras.keras`, with a small `.json` fingerprint), or, when
that folder cannot be written, into the user cache folder
(`$VQKERAS_CACHE`, else `$XDG_CACHE_HOME/vqkeras`, else `~/.cache/vqkeras`).
A cached model is reused while the checkpoint's size and modification time
are unchanged; otherwise it is converted again. The task (`qe` or `se`) is
read from the checkpoint's keys.

Example:
>>> model = load_checkpoint("VQScore_official.pkl")      # converts, caches
>>> model = load_checkpoint("VQScore_official.pkl")      # loads the cache
"""
import hashlib
import json
import os
import sys

CHECKPOINT_SUFFIXES = (".pkl", ".pt", ".pth", ".ckpt")
CACHE_FORMAT = 1


def is_official_checkpoint(path):
    """Whether `path` names a PyTorch checkpoint (by its suffix)."""
    return os.fspath(path).lower().endswith(CHECKPOINT_SUFFIXES)


def user_cache_dir():
    """The user cache folder for converted checkpoints."""
    if os.environ.get("VQKERAS_CACHE"):
        return os.environ["VQKERAS_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vqkeras")


def fingerprint(path):
    """What identifies one version of a checkpoint: absolute path, size and
    modification time (ns)."""
    info = os.stat(path)
    return {"checkpoint": os.path.abspath(path), "size": info.st_size,
            "mtime_ns": info.st_mtime_ns, "format": CACHE_FORMAT}


def cache_locations(path):
    """Candidate cached-model paths: beside the checkpoint, then in the user
    cache folder (named by the checkpoint's absolute path, so two
    checkpoints of one name do not collide)."""
    path = os.path.abspath(os.fspath(path))
    key = hashlib.sha1(path.encode("utf-8")).hexdigest()[:12]
    return [path + ".vqkeras.keras",
            os.path.join(user_cache_dir(), f"{os.path.basename(path)}-{key}.keras")]


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _try_write(model, target, stamp):
    """Saves `model` and its fingerprint at `target`; False when the folder
    cannot be written."""
    from vqkeras.training.callbacks import atomic_save

    folder = os.path.dirname(target)
    try:
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK):
            return False
        atomic_save(model, target)
        tmp = target + ".json.part"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(stamp, f)
        os.replace(tmp, target + ".json")
        return True
    except OSError:
        return False


def load_checkpoint(path, task=None, quiet=True):
    """The model held by an official checkpoint, through the cache.

    Args:
        path: official `torch.save` checkpoint (weights under
            `['model']['VQVAE']`).
        task: `"qe"`, `"se"` or None. None takes the checkpoint's own task;
            otherwise a checkpoint of the other task raises.
        quiet: bool. When False, says on stderr where the conversion went.

    Returns:
        (model, cached_path or None): `cached_path` is where the converted
        model lives (None if no folder could be written; the model is still
        returned).

    Raises:
        vqkeras.convert.CheckpointError: the file is not a usable checkpoint
            or holds the other task.
    """
    import keras

    from vqkeras.convert import (CheckpointError, config_from_state, detect_task,
                                 load_state_into, read_state_dict)
    from vqkeras.models import model_class

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    stamp = fingerprint(path)
    for target in cache_locations(path):
        saved = _read_json(target + ".json")
        if saved and os.path.isfile(target) and all(saved.get(k) == v for k, v in stamp.items()):
            if task is not None and saved.get("task") != task:
                break  # converting again gives the clear task error
            try:
                return keras.saving.load_model(target, compile=False), target
            except Exception:  # a damaged cache: convert again
                break
    state = read_state_dict(path)
    found = detect_task(state)
    try:
        model = model_class(task or found)(**config_from_state(state, task or found))
        load_state_into(model, state)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from None
    stamp["task"] = found
    for target in cache_locations(path):
        if _try_write(model, target, stamp):
            if not quiet:
                print(f"vqkeras: converted {path} ({found}) and cached it as {target}",
                      file=sys.stderr)
            return model, target
    if not quiet:
        print(f"vqkeras: converted {path}; no cache folder could be written", file=sys.stderr)
    return model, None
