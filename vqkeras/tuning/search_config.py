"""The tuning config (`vqkeras tune CONFIG.yaml`): its keys and defaults,
the checks of its values, and its paths resolved against the YAML's folder.
`tuning/README.md` in the repository describes the keys."""
import importlib.util
import os

TUNERS = {"random": "RandomSearch", "hyperband": "Hyperband", "bayesian": "BayesianOptimization"}
DEFAULT_PRESETS = {"qe": "vqscore-paper", "se": "enhancer-paper"}

DEFAULTS = {
    "task": None,
    "preset": None,
    "model": {},
    "search": {},
    "tuner": "random",
    "tuner_options": {},
    "max_trials": 10,
    "epochs": 2,
    "steps_per_epoch": 250,
    "data": {"train": [], "split": None, "batch_size": 16, "crop_seconds": 3.0,
             "gain_range": [0.05, 2.0]},
    "validation": {"labels": None, "label": "pesq", "build_from": None, "num_items": 200,
                   "max_items": None, "batch_size": 8},
    "optimizer": {"beta_1": 0.5, "beta_2": 0.9},
    "seed": 0,
    "directory": None,
    "project_name": None,
    "output_dir": "runs/tuning",
    "recipe": {"steps": 6000, "steps_per_epoch": 250, "checkpoint_every": 250,
               "output_dir": None},
}
# Mappings whose own keys are checked against DEFAULTS.
NESTED = ("data", "validation", "optimizer", "recipe")


class ConfigError(Exception):
    """A tuning config that cannot be used; the message names the key."""


def load_tune_config(path):
    """Reads a tuning YAML, checks its keys and values, fills the defaults
    and resolves data and validation paths against the YAML's folder.

    Raises:
        ConfigError: unreadable file, unknown key or bad value.
    """
    from vqkeras.training.recipe import read_yaml_mapping

    raw = read_yaml_mapping(path, ConfigError, "a tuning config")
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in raw.items():
        if key not in DEFAULTS:
            raise ConfigError(f"unknown key {key!r}; known: {', '.join(sorted(DEFAULTS))}")
        if key in NESTED or key in ("model", "search", "tuner_options"):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a mapping, got {value!r}")
            if key in NESTED:
                unknown = sorted(set(value) - set(DEFAULTS[key]))
                if unknown:
                    raise ConfigError(f"unknown key {key}.{unknown[0]}; known: "
                                      f"{', '.join(sorted(DEFAULTS[key]))}")
                config[key].update(value)
            else:
                config[key] = dict(value)
        else:
            config[key] = value
    _check_config(config)
    base = os.path.dirname(os.path.abspath(path))

    def resolve(p):
        p = os.path.expanduser(str(p))
        return p if os.path.isabs(p) or "://" in p else os.path.normpath(os.path.join(base, p))

    data, validation = config["data"], config["validation"]
    train = data["train"] or []
    data["train"] = [resolve(p) for p in ([train] if isinstance(train, str) else train)]
    if data["split"]:
        data["split"] = resolve(data["split"])
    for key in ("labels", "build_from"):
        if validation[key]:
            validation[key] = resolve(validation[key])
    config["config_path"] = os.path.abspath(path)
    return config


def _positive_int(config, key, where=None):
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where or key}: expected a positive integer, got {value!r}")


def _check_config(config):
    from vqkeras.models.presets import PRESETS

    if config["tuner"] not in TUNERS:
        raise ConfigError(f"tuner: unknown tuner {config['tuner']!r}; choose from "
                          f"{', '.join(TUNERS)}")
    task, preset = config["task"], config["preset"]
    if task is not None and task not in DEFAULT_PRESETS:
        raise ConfigError(f"task: expected 'qe' or 'se', got {task!r}")
    if preset is None:
        preset = config["preset"] = DEFAULT_PRESETS[task or "qe"]
    if preset not in PRESETS:
        raise ConfigError(f"preset: unknown preset {preset!r}; available: "
                          f"{', '.join(sorted(PRESETS))}")
    if task is None:
        task = config["task"] = PRESETS[preset]["task"]
    if PRESETS[preset]["task"] != task:
        raise ConfigError(f"preset {preset!r} is for task {PRESETS[preset]['task']!r}, "
                          f"not {task!r}")
    if config["tuner"] == "bayesian" and importlib.util.find_spec("sklearn") is None:
        raise ConfigError("tuner: bayesian needs scikit-learn (pip install scikit-learn, or "
                          "keras-tuner[bayesian]); random and hyperband need nothing more")
    for key in ("max_trials", "epochs", "steps_per_epoch"):
        _positive_int(config, key)
    for key in ("steps", "steps_per_epoch", "checkpoint_every"):
        _positive_int(config["recipe"], key, f"recipe.{key}")
    _positive_int(config["data"], "batch_size", "data.batch_size")
    _positive_int(config["validation"], "batch_size", "validation.batch_size")
    if isinstance(config["seed"], bool) or not isinstance(config["seed"], int):
        raise ConfigError(f"seed: expected an integer, got {config['seed']!r}")
    if not config["data"]["train"] and not config["data"]["split"]:
        raise ConfigError("data: name training audio with data.train (files, folders, globs, "
                          "CSV manifests) or data.split (the shared data folder)")
    if not config["validation"]["labels"]:
        raise ConfigError("validation.labels: a labels CSV is needed to score the trials "
                          "(with validation.build_from it is built when missing)")
