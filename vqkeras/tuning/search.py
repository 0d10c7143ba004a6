"""Running (or resuming) a codebook search from a loaded tuning config and
writing its results.

Each trial builds the config's preset with the trial's hyperparameters,
trains it for `epochs` x `steps_per_epoch` steps and scores it on the
validation set: `val_lcc` (QE, higher is better) or `val_denoise_sc` (SE,
lower is better). The tuner's project folder (`directory`/`project_name`)
keeps finished trials, so running the same search again resumes it. At the
end a results table goes to stdout and the best configuration is written
as a training recipe, OUTPUT/best_recipe.yaml, with every trial in
OUTPUT/trials.csv.
"""
import math
import os
import sys
import time

from vqkeras.tuning.best_recipe import best_recipe, write_recipe
from vqkeras.tuning.project_record import check_resume, record_settings
from vqkeras.tuning.result_tables import results_table, write_trials_csv
from vqkeras.tuning.search_config import ConfigError
from vqkeras.tuning.trial_text import hp_text
from vqkeras.tuning.tuner import make_tuner
from vqkeras.tuning.validation_set import validation_labels


def _training_files(config):
    from vqkeras.training.trainer import training_files

    try:
        files = training_files(config)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"data: {err}") from None
    if not files:
        raise ConfigError("data: no training audio found")
    return files


def make_hypermodel(config, labels):
    """The task's hypermodel for a loaded config, its validation set
    (`labels`) loaded now: a bad CSV is a config error, not a failed trial.

    Raises:
        ConfigError: a bad preset, model override, search space or
            validation set.
    """
    from vqkeras.tuning.hypermodel_lookup import hypermodel_class

    validation = config["validation"]
    try:
        hypermodel = hypermodel_class(config["task"])(
            preset=config["preset"], model_overrides=config["model"],
            search_space=config["search"], validation=labels,
            beta_1=config["optimizer"]["beta_1"], beta_2=config["optimizer"]["beta_2"],
            seed=config["seed"], validation_batch_size=validation["batch_size"],
            max_validation_items=validation["max_items"],
            **({"label": validation["label"]} if config["task"] == "qe" else {}))
        hypermodel.validation_callback().load()
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(str(err)) from None
    return hypermodel


def _completed(tuner):
    return sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values())


def _search(config, tuner, files, quiet):
    """Runs the trials still missing; returns how many finished."""
    import keras
    from vqkeras.data.training_dataset import make_training_dataset

    done = _completed(tuner)
    data = config["data"]
    keras.utils.set_random_seed(config["seed"])
    dataset = make_training_dataset(files, batch_size=data["batch_size"],
                                    crop_seconds=data["crop_seconds"],
                                    gain_range=tuple(data["gain_range"]),
                                    seed=config["seed"])
    start = time.time()
    try:
        tuner.search(dataset, epochs=config["epochs"], steps_per_epoch=config["steps_per_epoch"],
                     shuffle=False, verbose=0)
    except RuntimeError as err:
        # keras_tuner gives up after too many failed trials in a row.
        print(f"vqkeras tune: search stopped: {str(err).strip().splitlines()[0]}",
              file=sys.stderr)
    new = _completed(tuner) - done
    if not quiet:
        print(f"vqkeras tune: {new} new trials in {time.time() - start:.0f} s", file=sys.stderr)
    return new


def _write_results(config, tuner, hypermodel, output_dir, project_dir):
    """Prints the results table and the best trial, writes trials.csv and
    best_recipe.yaml; returns the recipe's path, or None without a scored
    trial."""
    os.makedirs(output_dir, exist_ok=True)
    print(results_table(tuner))
    write_trials_csv(tuner, os.path.join(output_dir, "trials.csv"))
    best = tuner.oracle.get_best_trials(1)
    if not best or best[0].score is None or not math.isfinite(best[0].score):
        print("vqkeras tune: no trial finished with a score; no recipe written", file=sys.stderr)
        return None
    trial = best[0]
    recipe = best_recipe(config, hypermodel, trial)
    path = os.path.join(output_dir, "best_recipe.yaml")
    name = hypermodel.objective.name
    write_recipe(recipe, path, [
        f"Best of {len(tuner.oracle.trials)} trials of {config['config_path']}",
        f"(tuner {config['tuner']}, project {os.path.abspath(project_dir)}):",
        f"trial {trial.trial_id}, {name} = {trial.score:.4f} after "
        f"{config['epochs']} x {config['steps_per_epoch']} steps.",
        f"Train it: vqkeras train {path}",
    ])
    print(f"best: trial {trial.trial_id}, {name}={trial.score:.4f}: "
          f"{hp_text(trial.hyperparameters.values)}")
    print(f"wrote {path}")
    return path


def tune(config, output_dir=None, quiet=False):
    """Runs (or resumes) the search of a loaded config and writes the results.

    Args:
        config: dict from `vqkeras.tuning.search_config.load_tune_config`.
        output_dir: str or None. Overrides the config's `output_dir`.
        quiet: bool. No progress lines on stderr.

    Returns:
        `(tuner, best_recipe_path or None)`.

    Raises:
        ConfigError: missing training audio or validation set, a bad search
            space or tuner option, or a project folder holding a search with
            other trial settings.
    """
    output_dir = output_dir or config["output_dir"]
    directory = config["directory"] or output_dir
    project_name = config["project_name"] or f"{config['task']}_codebook_search"
    project_dir = os.path.join(directory, project_name)

    files = _training_files(config)
    labels = validation_labels(config, quiet)
    hypermodel = make_hypermodel(config, labels)
    resumed = check_resume(config, project_dir)
    tuner = make_tuner(config, hypermodel, directory, project_name, quiet)
    record_settings(config, project_dir)
    if not quiet:
        done = _completed(tuner)
        what = (f"resuming {project_dir} ({done} trials done)" if resumed
                else f"project {project_dir}")
        print(f"vqkeras tune: {config['task']} search on {config['preset']} with "
              f"{config['tuner']} tuner, {len(files)} training files, objective "
              f"{hypermodel.objective.name} ({hypermodel.objective.direction}); {what}",
              file=sys.stderr, flush=True)
    _search(config, tuner, files, quiet)
    return tuner, _write_results(config, tuner, hypermodel, output_dir, project_dir)


def quiet_library_chatter():
    """Each trial builds a new model, so TensorFlow warns about retracing,
    and Hyperband's weight hand-over warns that the new optimizer has no
    state yet: both expected here."""
    import warnings

    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    warnings.filterwarnings("ignore", message=".*shuffle=True.*tf.data.Dataset")
    import keras

    # TF's retracing warnings; other backends never load it.
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
