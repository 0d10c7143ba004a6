"""Keras Tuner search over codebook size, codebook dimension, distance and
learning rate, from a YAML config (see tuning/README.md).

Each trial builds the config's preset with the trial's hyperparameters,
trains it for `epochs` x `steps_per_epoch` steps and scores it on the
validation set: `val_lcc` (QE, higher is better) or `val_denoise_sc` (SE,
lower is better). The tuner's project folder (`directory`/`project_name`)
keeps finished trials, so running the same command again resumes the
search. At the end a results table goes to stdout and the best
configuration is written as a training recipe, OUTPUT/best_recipe.yaml
(`vqkeras train OUTPUT/best_recipe.yaml`), with every trial in
OUTPUT/trials.csv.
"""
import contextlib
import csv
import importlib.util
import json
import math
import os
import sys
import time

from vqkeras.cli.main import UsageError

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
             "gain_range": [0.05, 2.0], "shuffle_buffer": 512},
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
# Settings that change what a trial computes: a resumed project must match.
TRIAL_SETTINGS = ("task", "preset", "model", "search", "tuner", "tuner_options", "epochs",
                  "steps_per_epoch", "data", "validation", "optimizer", "seed")
CONFIG_RECORD = "vqkeras_tune_config.json"


class ConfigError(Exception):
    """A tuning config that cannot be used; the message names the key."""


def add_arguments(p):
    p.add_argument("config", metavar="CONFIG.yaml")
    p.add_argument("--max-trials", type=int, metavar="N", help="override max_trials")
    p.add_argument("--steps", type=int, metavar="N",
                   help="override steps_per_epoch (training steps per epoch of each trial)")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="override output_dir (best_recipe.yaml, trials.csv and, unless the "
                        "config sets directory, the tuner project)")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-trial progress lines")


# ------------------------------------------------------------------ config
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


def _trial_settings(config):
    return json.loads(json.dumps({k: config[k] for k in TRIAL_SETTINGS}))


def _check_resume(config, project_dir):
    """Whether `project_dir` holds an earlier search; raises a usage error
    when that search was started with other trial settings."""
    record = os.path.join(project_dir, CONFIG_RECORD)
    if not os.path.isfile(record):
        return False
    with open(record, encoding="utf-8") as f:
        previous = json.load(f)
    current = _trial_settings(config)
    changed = [k for k in TRIAL_SETTINGS if previous.get(k) != current[k]]
    if changed:
        raise UsageError(f"{project_dir} holds a search started with different "
                         f"{', '.join(changed)}; its trials would not be comparable. Use "
                         "another project_name (or remove the folder) to start over")
    return True


def _record_settings(config, project_dir):
    os.makedirs(project_dir, exist_ok=True)
    with open(os.path.join(project_dir, CONFIG_RECORD), "w", encoding="utf-8") as f:
        json.dump(_trial_settings(config), f, indent=1)


# ----------------------------------------------------------------- helpers
def _validation_labels(config, quiet):
    validation = config["validation"]
    labels = validation["labels"]
    if os.path.isfile(labels):
        return labels
    if not validation["build_from"]:
        raise UsageError(f"validation.labels: {labels} not found (set validation.build_from "
                         "to the shared data folder to build it)")
    if os.path.basename(labels) != "labels.csv":
        raise UsageError("validation.labels: to be built it must be named labels.csv "
                         f"(got {labels})")
    if not os.path.isdir(validation["build_from"]):
        raise UsageError(f"validation.build_from: {validation['build_from']} is not a folder")
    from vqkeras.data.noisy_set import build_default_noisy_set

    if not quiet:
        print(f"vqkeras tune: building the validation set {labels} from "
              f"{validation['build_from']}", file=sys.stderr)
    return build_default_noisy_set(validation["build_from"], os.path.dirname(labels),
                                   num_items=int(validation["num_items"]), seed=config["seed"],
                                   with_dnsmos=validation["label"] == "dnsmos_ovrl", quiet=quiet)


def _format_value(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _hp_text(values):
    return " ".join(f"{k}={_format_value(v)}" for k, v in values.items()
                    if not k.startswith("tuner/"))


def _tuner_class(kind, quiet):
    import keras_tuner

    base = getattr(keras_tuner, TUNERS[kind])

    class ProgressTuner(base):
        """The keras_tuner class with one progress line per trial."""

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self._trial_start = time.time()
            if not quiet:
                values = dict(trial.hyperparameters.values)
                epochs = values.get("tuner/epochs")
                extra = f" ({epochs} epochs)" if epochs else ""
                print(f"trial {trial.trial_id} [{len(self.oracle.trials)}/"
                      f"{self.oracle.max_trials or '-'}]: {_hp_text(values)}{extra}",
                      file=sys.stderr, flush=True)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            if quiet:
                return
            trial = self.oracle.get_trial(trial.trial_id)
            seconds = time.time() - getattr(self, "_trial_start", time.time())
            name = self.oracle.objective.name
            if trial.status == "COMPLETED":
                best = self.oracle.get_best_trials(1)
                best_text = (f"; best so far {name}={best[0].score:.4f} (trial {best[0].trial_id})"
                             if best else "")
                print(f"trial {trial.trial_id} done in {seconds:.0f} s: {name}="
                      f"{_score_text(trial.score)}{best_text}", file=sys.stderr, flush=True)
            else:
                reason = (trial.message or "").strip().splitlines()
                print(f"trial {trial.trial_id} {trial.status.lower()} after {seconds:.0f} s: "
                      f"{reason[-1] if reason else 'no message'}", file=sys.stderr, flush=True)

    return ProgressTuner


def _score_text(score):
    return "-" if score is None else f"{score:.4f}"


def _make_tuner(config, hypermodel, directory, project_name, quiet):
    kind = config["tuner"]
    options = dict(config["tuner_options"])
    # keras_tuner reads seed 0 as "no seed" (a random one): shift by one.
    options.update(hypermodel=hypermodel, objective=hypermodel.objective, seed=config["seed"] + 1,
                   directory=directory, project_name=project_name, overwrite=False)
    if kind == "hyperband":
        options.setdefault("max_epochs", config["epochs"])
    else:
        options["max_trials"] = config["max_trials"]
    cls = _tuner_class(kind, quiet)
    try:
        # keras_tuner prints "Reloading Tuner from ..." on stdout; keep stdout
        # for the results table.
        with contextlib.redirect_stdout(sys.stderr):
            return cls(**options)
    except (TypeError, ValueError) as err:
        raise UsageError(f"tuner_options: {err}") from None
    except ImportError as err:
        raise UsageError(f"tuner: {err}") from None


def _trial_rows(tuner):
    rows = []
    for trial_id in sorted(tuner.oracle.trials, key=lambda t: (len(t), t)):
        trial = tuner.oracle.trials[trial_id]
        rows.append((trial, {k: v for k, v in trial.hyperparameters.values.items()
                             if not k.startswith("tuner/") or k == "tuner/epochs"}))
    return rows


def _results_table(tuner):
    from vqkeras.evaluation.report_tables import format_table

    names = ["codebook_size", "codebook_dim", "distance", "learning_rate"]
    rows = _trial_rows(tuner)
    extra = sorted({k for _, values in rows for k in values} - set(names))
    header = ["trial", "status"] + names + extra + [tuner.oracle.objective.name]
    table = []
    for trial, values in rows:
        table.append([trial.trial_id, trial.status.lower()]
                     + [_format_value(values.get(k, "-")) for k in names + extra]
                     + [_score_text(trial.score)])
    return format_table(header, table)


def _write_trials_csv(tuner, path):
    names = ["codebook_size", "codebook_dim", "distance", "learning_rate"]
    objective = tuner.oracle.objective.name
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["trial", "status"] + names + ["epochs", objective])
        for trial, values in _trial_rows(tuner):
            writer.writerow([trial.trial_id, trial.status.lower()]
                            + [values.get(k, "") for k in names]
                            + [values.get("tuner/epochs", ""),
                               "" if trial.score is None else trial.score])


def best_recipe(config, hypermodel, trial):
    """A training recipe (the keys of `vqkeras.training.recipe.DEFAULTS`) for
    the hyperparameters of `trial`."""
    values = trial.hyperparameters.values
    model = dict(config["model"])
    model.update(codebook_size=int(values["codebook_size"]),
                 codebook_dim=int(values["codebook_dim"]),
                 use_cosine_sim=values["distance"] == "cosine")
    data = dict(config["data"])
    data["gain_range"] = [float(g) for g in data["gain_range"]]
    recipe = {
        "task": config["task"],
        "preset": config["preset"],
        "model": model,
        "data": data,
        "optimizer": {"learning_rate": float(values["learning_rate"]),
                      "beta_1": float(config["optimizer"]["beta_1"]),
                      "beta_2": float(config["optimizer"]["beta_2"])},
        "steps": config["recipe"]["steps"],
        "steps_per_epoch": config["recipe"]["steps_per_epoch"],
        "checkpoint_every": config["recipe"]["checkpoint_every"],
        "validation": None,
        "seed": config["seed"],
        "output_dir": (config["recipe"]["output_dir"]
                       or os.path.join("runs", f"{config['task']}_tuned_{trial.trial_id}")),
    }
    if hypermodel.task == "qe":
        # The trainer keeps best.keras on val_lcc of this set.
        recipe["validation"] = {"labels": config["validation"]["labels"],
                                "label": config["validation"]["label"]}
    return recipe


def _write_recipe(recipe, path, header_lines):
    import yaml

    text = yaml.safe_dump(recipe, sort_keys=False, default_flow_style=None, width=100)
    with open(path + ".part", "w", encoding="utf-8") as f:
        f.write("".join(f"# {line}\n" for line in header_lines))
        f.write(text)
    os.replace(path + ".part", path)


# --------------------------------------------------------------------- run
def tune(config, output_dir=None, quiet=False):
    """Runs (or resumes) the search of a loaded config and writes the results.

    Returns:
        `(tuner, best_recipe_path or None)`.
    """
    import keras
    from vqkeras.data.training_dataset import make_training_dataset
    from vqkeras.training.trainer import training_files
    from vqkeras.tuning.hypermodels import hypermodel_class

    output_dir = output_dir or config["output_dir"]
    directory = config["directory"] or output_dir
    project_name = config["project_name"] or f"{config['task']}_codebook_search"
    project_dir = os.path.join(directory, project_name)

    try:
        files = training_files(config)
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(f"data: {err}") from None
    if not files:
        raise UsageError("data: no training audio found")
    labels = _validation_labels(config, quiet)
    validation = config["validation"]
    try:
        hypermodel = hypermodel_class(config["task"])(
            preset=config["preset"], model_overrides=config["model"],
            search_space=config["search"], validation=labels,
            beta_1=config["optimizer"]["beta_1"], beta_2=config["optimizer"]["beta_2"],
            seed=config["seed"], validation_batch_size=validation["batch_size"],
            max_validation_items=validation["max_items"],
            **({"label": validation["label"]} if config["task"] == "qe" else {}))
        # Load the validation set now: a bad CSV is a config error, not a
        # failed trial.
        hypermodel.validation_callback().load()
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None

    resumed = _check_resume(config, project_dir)
    tuner = _make_tuner(config, hypermodel, directory, project_name, quiet)
    _record_settings(config, project_dir)
    done = sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    if not quiet:
        what = (f"resuming {project_dir} ({done} trials done)" if resumed
                else f"project {project_dir}")
        print(f"vqkeras tune: {config['task']} search on {config['preset']} with "
              f"{config['tuner']} tuner, {len(files)} training files, objective "
              f"{hypermodel.objective.name} ({hypermodel.objective.direction}); {what}",
              file=sys.stderr, flush=True)

    data = config["data"]
    keras.utils.set_random_seed(config["seed"])
    dataset = make_training_dataset(files, batch_size=data["batch_size"],
                                    crop_seconds=data["crop_seconds"],
                                    gain_range=tuple(data["gain_range"]),
                                    shuffle_buffer=data["shuffle_buffer"], seed=config["seed"])
    start = time.time()
    try:
        tuner.search(dataset, epochs=config["epochs"], steps_per_epoch=config["steps_per_epoch"],
                     shuffle=False, verbose=0)
    except RuntimeError as err:
        # keras_tuner gives up after too many failed trials in a row.
        print(f"vqkeras tune: search stopped: {str(err).strip().splitlines()[0]}",
              file=sys.stderr)
    new = sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values()) - done
    if not quiet:
        print(f"vqkeras tune: {new} new trials in {time.time() - start:.0f} s", file=sys.stderr)

    os.makedirs(output_dir, exist_ok=True)
    print(_results_table(tuner))
    _write_trials_csv(tuner, os.path.join(output_dir, "trials.csv"))
    best = tuner.oracle.get_best_trials(1)
    if not best or best[0].score is None or not math.isfinite(best[0].score):
        print("vqkeras tune: no trial finished with a score; no recipe written", file=sys.stderr)
        return tuner, None
    trial = best[0]
    recipe = best_recipe(config, hypermodel, trial)
    path = os.path.join(output_dir, "best_recipe.yaml")
    name = hypermodel.objective.name
    _write_recipe(recipe, path, [
        f"Best of {len(tuner.oracle.trials)} trials of {config['config_path']}",
        f"(tuner {config['tuner']}, project {os.path.abspath(project_dir)}):",
        f"trial {trial.trial_id}, {name} = {trial.score:.4f} after "
        f"{config['epochs']} x {config['steps_per_epoch']} steps.",
        f"Train it: vqkeras train {path}",
    ])
    print(f"best: trial {trial.trial_id}, {name}={trial.score:.4f}: "
          f"{_hp_text(trial.hyperparameters.values)}")
    print(f"wrote {path}")
    return tuner, path


def _quiet_library_chatter():
    """Each trial builds a new model, so TensorFlow warns about retracing,
    and Hyperband's weight hand-over warns that the new optimizer has no
    state yet: both expected here."""
    import warnings

    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    warnings.filterwarnings("ignore", message=".*shuffle=True.*tf.data.Dataset")
    import keras

    if keras.backend.backend() == "tensorflow":  # TF's retracing warnings; other backends never load it
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")


def run(args):
    try:
        config = load_tune_config(args.config)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    if args.max_trials is not None:
        if args.max_trials < 1:
            raise UsageError("--max-trials must be at least 1")
        config["max_trials"] = args.max_trials
    if args.steps is not None:
        if args.steps < 1:
            raise UsageError("--steps must be at least 1")
        config["steps_per_epoch"] = args.steps
    _quiet_library_chatter()
    _, path = tune(config, output_dir=args.output_dir, quiet=args.quiet)
    return 0 if path else 1
