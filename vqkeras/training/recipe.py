"""Training recipes: YAML files that map one to one onto `train()`."""
import os

import yaml

from vqkeras.training.train_calibration import calibration_settings

DEFAULTS = {
    "task": "qe",
    "preset": "vqscore-paper",
    "model": {},
    "data": {"train": [], "split": None, "batch_size": 16, "crop_seconds": 3.0,
             "gain_range": [0.05, 2.0],
             # Input pipeline: auto (tf.data on TensorFlow, the numpy
             # CropDataset on JAX and torch), tf or numpy; workers: processes
             # of the numpy pipeline (null or 0: in the training process).
             "pipeline": "auto", "workers": None,
             # Clean speech of a `split` folder: default (LibriSpeech 80% +
             # LJ Speech) or all (every source in speech/, same held-out
             # LibriSpeech speakers; vqkeras.data.splits.all_speech_split).
             "speech": "default",
             # Label-free ranking pairs (vqkeras.data.ranking_pairs.RankingPairs
             # arguments, e.g. {copies: 1, max_margin: 0.1}); needs
             # model.ranking_weight > 0. null: off (the paper's training).
             "ranking": None,
             # Clean-speech augmentation without ranking pairs
             # (vqkeras.data.clean_augment.CleanAugment arguments, e.g.
             # {speed_range: [0.9, 1.1], vtlp_range: [0.9, 1.1]}); with
             # `ranking`, give these inside `ranking` instead. null: off.
             "augment": None},
    "optimizer": {"learning_rate": 1e-4, "beta_1": 0.5, "beta_2": 0.9},
    "steps": 4000,
    "steps_per_epoch": 250,
    "checkpoint_every": 500,
    "validation": None,
    # Enhancement stage 2 (self-distillation): `stage: 2` and `init_from`, the
    # stage-1 model to start from (teacher = frozen copy of it).
    "stage": 1,
    "init_from": None,
    "epsilon_range": [0.03, 0.55],
    # Data-parallel stage-1 training over every local device: null (one
    # device), `mirrored` (TensorFlow MirroredStrategy) or `data_parallel`
    # (JAX keras.distribution.DataParallel); data.batch_size is global.
    "distribution": None,
    # Mixed precision: null (float32), mixed_bfloat16 or mixed_float16 (with
    # loss scaling). Codebooks, their EMA state and the STFT stay float32.
    "dtype_policy": None,
    # Quality models: final.keras and best.keras are calibrated at the end on
    # held-out clean speech (vqkeras.training.train_calibration), so scores
    # come with clean_percentile and equivalent_snr_db. noisy_files: clean
    # files that get noisy copies; max_files: a seeded sample of at most this
    # many held-out files. `false`: no calibration.
    "calibration": {"noisy_files": 50, "max_files": 500},
    "seed": 0,
    "output_dir": "runs/default",
}


# Keys that recipes no longer take, with what to do instead.
REMOVED_KEYS = {
    "data.shuffle_buffer": "the crop plan shuffles the files itself; delete the key",
}


class RecipeError(Exception):
    """A recipe that cannot be used; the message names the key."""


def _merge(base, override, where=""):
    out = dict(base)
    for key, value in (override or {}).items():
        if f"{where}{key}" in REMOVED_KEYS:
            raise RecipeError(f"recipe key {where}{key} is no longer used: "
                              f"{REMOVED_KEYS[where + key]}")
        if key not in base:
            raise RecipeError(f"unknown recipe key {where}{key!r}; known: {', '.join(sorted(base))}")
        if isinstance(base[key], dict) and isinstance(value, dict) and key != "model":
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def read_yaml_mapping(path, error=RecipeError, what="a recipe"):
    """The top-level mapping of a YAML file; `error` (an exception class)
    names the file and the problem otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f) or {}
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: {what} is a mapping of keys to values")
    return raw


def load_recipe(path):
    """Reads a recipe YAML, fills defaults and resolves relative data paths
    against the recipe's folder."""
    raw = read_yaml_mapping(path)
    recipe = _merge(DEFAULTS, raw)
    base = os.path.dirname(os.path.abspath(path))

    def resolve(p):
        return p if os.path.isabs(p) or "://" in p else os.path.normpath(os.path.join(base, p))

    train = recipe["data"]["train"]
    recipe["data"]["train"] = [resolve(p) for p in ([train] if isinstance(train, str) else train)]
    if recipe["init_from"]:
        recipe["init_from"] = resolve(recipe["init_from"])
    if recipe["stage"] not in (1, 2):
        raise RecipeError(f"{path}: stage must be 1 or 2, got {recipe['stage']!r}")
    if recipe["stage"] == 2 and (recipe["task"] != "se" or not recipe["init_from"]):
        raise RecipeError(f"{path}: stage 2 is for task se and needs init_from (a stage-1 model)")
    if recipe["data"]["pipeline"] not in ("auto", "tf", "numpy"):
        raise RecipeError(f"{path}: data.pipeline must be auto, tf or numpy, "
                          f"got {recipe['data']['pipeline']!r}")
    workers = recipe["data"]["workers"]
    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise RecipeError(f"{path}: data.workers must be a non-negative integer or null, "
                          f"got {workers!r}")
    if recipe["dtype_policy"] not in (None, "float32", "mixed_bfloat16", "mixed_float16"):
        raise RecipeError(f"{path}: dtype_policy must be null, float32, mixed_bfloat16 or "
                          f"mixed_float16, got {recipe['dtype_policy']!r}")
    if recipe["data"]["ranking"] and recipe["data"]["augment"]:
        raise RecipeError(f"{path}: data.augment and data.ranking are both set; give "
                          f"speed_range and vtlp_range inside data.ranking")
    try:
        recipe["calibration"] = calibration_settings(recipe["calibration"]) or False
    except ValueError as err:
        raise RecipeError(f"{path}: {err}") from None
    if recipe["data"]["split"]:
        recipe["data"]["split"] = resolve(recipe["data"]["split"])
    if recipe["validation"]:
        val = dict(recipe["validation"])
        for key in ("labels", "shared_data"):
            if val.get(key):
                val[key] = resolve(val[key])
        recipe["validation"] = val
    return recipe
