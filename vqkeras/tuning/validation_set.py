"""The labelled validation set of a search: the config's labels CSV, built
and labelled first from the shared data folder when it is missing."""
import os
import sys

from vqkeras.tuning.search_config import ConfigError


def validation_labels(config, quiet):
    """The path of the config's `validation.labels` CSV.

    When it does not exist and `validation.build_from` names the shared data
    folder, the default noisy set is built there
    (`vqkeras.data.noisy_set.build_default_noisy_set`) and labelled with
    PESQ and STOI, plus DNSMOS OVRL when that is the config's label
    (`vqkeras.evaluation.set_labels.label_default_noisy_set`).

    Raises:
        ConfigError: the CSV is missing and cannot be built.
    """
    validation = config["validation"]
    labels = validation["labels"]
    if os.path.isfile(labels):
        return labels
    if not validation["build_from"]:
        raise ConfigError(f"validation.labels: {labels} not found (set validation.build_from "
                          "to the shared data folder to build it)")
    if os.path.basename(labels) != "labels.csv":
        raise ConfigError("validation.labels: to be built it must be named labels.csv "
                          f"(got {labels})")
    if not os.path.isdir(validation["build_from"]):
        raise ConfigError(f"validation.build_from: {validation['build_from']} is not a folder")
    from vqkeras.data.noisy_set import build_default_noisy_set
    from vqkeras.evaluation.set_labels import label_default_noisy_set

    if not quiet:
        print(f"vqkeras tune: building the validation set {labels} from "
              f"{validation['build_from']}", file=sys.stderr)
    built = build_default_noisy_set(validation["build_from"], os.path.dirname(labels),
                                    num_items=int(validation["num_items"]), seed=config["seed"],
                                    quiet=quiet)
    return label_default_noisy_set(built, validation["build_from"],
                                   with_dnsmos=validation["label"] == "dnsmos_ovrl", quiet=quiet)
