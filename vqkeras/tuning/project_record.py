"""The record a search leaves in its tuner project folder: the settings its
trials were computed with, so that a rerun resumes only a comparable
search."""
import json
import os

from vqkeras.tuning.search_config import ConfigError

# Settings that change what a trial computes: a resumed project must match.
TRIAL_SETTINGS = ("task", "preset", "model", "search", "tuner", "tuner_options", "epochs",
                  "steps_per_epoch", "data", "validation", "optimizer", "seed")
CONFIG_RECORD = "vqkeras_tune_config.json"


def trial_settings(config):
    """The trial settings of a loaded config, as plain JSON values."""
    return json.loads(json.dumps({k: config[k] for k in TRIAL_SETTINGS}))


def check_resume(config, project_dir):
    """Whether `project_dir` holds an earlier search.

    Raises:
        ConfigError: that search was started with other trial settings.
    """
    record = os.path.join(project_dir, CONFIG_RECORD)
    if not os.path.isfile(record):
        return False
    with open(record, encoding="utf-8") as f:
        previous = json.load(f)
    current = trial_settings(config)
    changed = [k for k in TRIAL_SETTINGS if previous.get(k) != current[k]]
    if changed:
        raise ConfigError(f"{project_dir} holds a search started with different "
                          f"{', '.join(changed)}; its trials would not be comparable. Use "
                          "another project_name (or remove the folder) to start over")
    return True


def record_settings(config, project_dir):
    """Writes the config's trial settings into `project_dir`."""
    os.makedirs(project_dir, exist_ok=True)
    with open(os.path.join(project_dir, CONFIG_RECORD), "w", encoding="utf-8") as f:
        json.dump(trial_settings(config), f, indent=1)
