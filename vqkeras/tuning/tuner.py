"""The Keras Tuner tuner of a search: the config's tuner class, with one
progress line per trial on stderr."""
import contextlib
import sys
import time

from vqkeras.tuning.search_config import TUNERS, ConfigError
from vqkeras.tuning.trial_text import hp_text, score_text


def tuner_class(kind, quiet):
    """A subclass of the keras_tuner class named by `kind` (a key of
    `TUNERS`) that prints a line when a trial begins and ends (nothing with
    `quiet`)."""
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
                      f"{self.oracle.max_trials or '-'}]: {hp_text(values)}{extra}",
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
                      f"{score_text(trial.score)}{best_text}", file=sys.stderr, flush=True)
            else:
                reason = (trial.message or "").strip().splitlines()
                print(f"trial {trial.trial_id} {trial.status.lower()} after {seconds:.0f} s: "
                      f"{reason[-1] if reason else 'no message'}", file=sys.stderr, flush=True)

    return ProgressTuner


def make_tuner(config, hypermodel, directory, project_name, quiet):
    """The config's tuner for `hypermodel`, reloading the project folder
    `directory/project_name` when it holds earlier trials.

    Raises:
        ConfigError: `tuner_options` the tuner class refuses, or a tuner
            whose optional dependency is missing.
    """
    kind = config["tuner"]
    options = dict(config["tuner_options"])
    # keras_tuner reads seed 0 as "no seed" (a random one): shift by one.
    options.update(hypermodel=hypermodel, objective=hypermodel.objective, seed=config["seed"] + 1,
                   directory=directory, project_name=project_name, overwrite=False)
    if kind == "hyperband":
        options.setdefault("max_epochs", config["epochs"])
    else:
        options["max_trials"] = config["max_trials"]
    cls = tuner_class(kind, quiet)
    try:
        # keras_tuner prints "Reloading Tuner from ..." on stdout; keep stdout
        # for the results table.
        with contextlib.redirect_stdout(sys.stderr):
            return cls(**options)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"tuner_options: {err}") from None
    except ImportError as err:
        raise ConfigError(f"tuner: {err}") from None
