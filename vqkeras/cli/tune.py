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
from vqkeras.cli.usage_error import UsageError


def add_arguments(p):
    p.add_argument("config", metavar="CONFIG.yaml")
    p.add_argument("--max-trials", type=int, metavar="N", help="override max_trials")
    p.add_argument("--steps", type=int, metavar="N",
                   help="override steps_per_epoch (training steps per epoch of each trial)")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="override output_dir (best_recipe.yaml, trials.csv and, unless the "
                        "config sets directory, the tuner project)")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-trial progress lines")


def run(args):
    from vqkeras.tuning.search import quiet_library_chatter, tune
    from vqkeras.tuning.search_config import ConfigError, load_tune_config

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
    quiet_library_chatter()
    try:
        _, path = tune(config, output_dir=args.output_dir, quiet=args.quiet)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    return 0 if path else 1
