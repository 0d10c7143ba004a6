"""The results of a search: a plain-text table of every trial for stdout and
the same rows as `trials.csv`."""
import csv

from vqkeras.tuning.search_space import SEARCHED
from vqkeras.tuning.trial_text import format_value, score_text


def trial_rows(tuner):
    """`(trial, hyperparameter values)` of every trial in id order; the
    values keep `tuner/epochs` and drop the tuner's other entries."""
    rows = []
    for trial_id in sorted(tuner.oracle.trials, key=lambda t: (len(t), t)):
        trial = tuner.oracle.trials[trial_id]
        rows.append((trial, {k: v for k, v in trial.hyperparameters.values.items()
                             if not k.startswith("tuner/") or k == "tuner/epochs"}))
    return rows


def results_table(tuner):
    """Every trial's id, status, hyperparameters and objective as a
    plain-text table."""
    from vqkeras.evaluation.report_tables import format_table

    names = list(SEARCHED)
    rows = trial_rows(tuner)
    extra = sorted({k for _, values in rows for k in values} - set(names))
    header = ["trial", "status"] + names + extra + [tuner.oracle.objective.name]
    table = []
    for trial, values in rows:
        table.append([trial.trial_id, trial.status.lower()]
                     + [format_value(values.get(k, "-")) for k in names + extra]
                     + [score_text(trial.score)])
    return format_table(header, table)


def write_trials_csv(tuner, path):
    """Writes one row per trial: id, status, the searched values, epochs and
    the objective."""
    names = list(SEARCHED)
    objective = tuner.oracle.objective.name
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["trial", "status"] + names + ["epochs", objective])
        for trial, values in trial_rows(tuner):
            writer.writerow([trial.trial_id, trial.status.lower()]
                            + [values.get(k, "") for k in names]
                            + [values.get("tuner/epochs", ""),
                               "" if trial.score is None else trial.score])
