"""The calibration stored at the end of `vqkeras train` (quality models).

After stage-1 training of a quality-estimation (`qe`) model, `final.keras`
and `best.keras` (when written) are calibrated on held-out clean speech, with
no labels, by the routine of `vqkeras calibrate`
(`vqkeras.calibration_set.calibrate_waveforms`), seeded with the recipe's
seed. So `vqkeras score` with the trained model writes `clean_percentile`
and `equivalent_snr_db` at once. The clean speech is speech the model never
trained on:

- `data.split` (a shared data folder): the first half (seed 0,
  `vqkeras.data.validation_split.calibration_halves`) of the held-out
  validation speakers; the other half stays for testing the calibration.
- `data.train` with a held-out validation set (`validation.holdout`, what
  `--data data.train=DIR` sets up): the clean held-out files
  (`vqkeras.data.holdout_set.holdout_split`).

Otherwise (e.g. `--no-validation` on your own folder: nothing is held out),
or with fewer than `vqkeras.calibration_set.MIN_FILES` readable held-out
files, the models carry no calibration and score as before. One line on
stderr says which. The recipe key `calibration` sets the cost
(`{noisy_files: 50, max_files: 500}`) or turns it off (`false`).
"""
import json
import os
import sys

DEFAULT_SETTINGS = {"noisy_files": 50, "max_files": 500}
LATER = ("clean_percentile and equivalent_snr_db stay empty in `vqkeras score` "
         "(`vqkeras calibrate MODEL --clean DIR -o OUT.keras` adds them)")


def calibration_settings(value):
    """The recipe's `calibration` value as settings (a dict), or None when
    it is off (`false` or null); True means the defaults.

    Raises:
        ValueError: a value or setting the trainer cannot use.
    """
    from vqkeras.calibration_set import MIN_FILES

    if value is None or value is False:
        return None
    if value is True:
        return dict(DEFAULT_SETTINGS)
    if not isinstance(value, dict):
        raise ValueError(f"calibration must be false or a mapping such as {{noisy_files: 50}}, "
                         f"got {value!r}")
    unknown = sorted(set(value) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError(f"unknown recipe key calibration.{unknown[0]}; known: "
                         f"{', '.join(sorted(DEFAULT_SETTINGS))}")
    settings = {**DEFAULT_SETTINGS, **value}
    for key, least in (("noisy_files", 1), ("max_files", MIN_FILES)):
        if not isinstance(settings[key], int) or isinstance(settings[key], bool) \
                or settings[key] < least:
            raise ValueError(f"calibration.{key} must be an integer of at least {least}, "
                             f"got {settings[key]!r}")
    return settings


def calibration_speech(recipe, held_out=()):
    """(files, where): the held-out clean files to calibrate on and a few
    words saying what they are; `files` is empty (and `where` says why)
    when the run holds no clean speech out of training.

    Args:
        recipe: the loaded recipe.
        held_out: the files `vqkeras.data.holdout_set.holdout_split` kept
            out of training for validation, if any.
    """
    data = recipe["data"]
    if data.get("split"):
        from vqkeras.data.splits import all_speech_split, default_speech_split
        from vqkeras.data.validation_split import calibration_halves

        split = all_speech_split if data.get("speech", "default") == "all" else default_speech_split
        files, _ = calibration_halves(split(data["split"])[1], seed=0)
        return files, "clean files of held-out validation speakers, never trained on"
    if held_out:
        return sorted(held_out), "clean files held out of data.train, never trained on"
    if not recipe.get("validation"):
        return [], "no held-out clean speech (trained without validation, on data.train alone)"
    return [], ("no held-out clean speech (the validation set is a labelled noisy set; "
                "validation.holdout keeps clean files out of data.train)")


def _read(files):
    from vqkeras.audio import AudioError, read_audio

    waves, skipped = [], 0
    for path in files:
        try:
            waves.append(read_audio(path)[0])
        except AudioError:
            skipped += 1
    return waves, skipped


def calibrate_trained(recipe, output_dir, summary, held_out=()):
    """Calibrates `final.keras` and `best.keras` (when present) of a
    finished quality-model run in `output_dir`, prints one line on stderr
    saying on what (or why not), and records it as `summary["calibration"]`
    (also in `summary.json`).

    Returns:
        The `summary["calibration"]` entry: `{"files", "noisy_files",
        "models", "made_from"}`, or `{"skipped": why}`; None for an
        enhancement model (never calibrated).
    """
    from vqkeras.models.presets import get_preset

    if get_preset(recipe["preset"])["task"] != "qe":
        return None
    info = _calibrate(recipe, output_dir, summary, held_out)
    if "skipped" in info:
        print(f"vqkeras train: not calibrated: {info['skipped']}; {LATER}", file=sys.stderr)
    else:
        names = " and ".join(os.path.basename(p) for p in info["models"])
        print(f"vqkeras train: calibrated {names} on {info['files']} {info['where']} "
              f"(noisy copies of {info['noisy_files']}): `vqkeras score` writes "
              "clean_percentile and equivalent_snr_db", file=sys.stderr)
        del info["where"]
    summary["calibration"] = info
    path = os.path.join(output_dir, "summary.json")
    if os.path.exists(path):
        with open(path, "w") as f:
            json.dump(summary, f, indent=2)
    return info


def _calibrate(recipe, output_dir, summary, held_out):
    import numpy as np

    from vqkeras.calibration_set import MIN_FILES, calibrate_waveforms

    settings = calibration_settings(recipe.get("calibration", DEFAULT_SETTINGS))
    if settings is None:
        return {"skipped": "the recipe sets calibration: false"}
    if summary.get("stopped_on_nan"):
        return {"skipped": "the run stopped on a NaN loss"}
    files, where = calibration_speech(recipe, held_out)
    if not files:
        return {"skipped": where}
    seed = int(recipe.get("seed", 0))
    if len(files) > settings["max_files"]:
        pick = np.random.default_rng(seed).permutation(len(files))[:settings["max_files"]]
        files = [files[i] for i in sorted(pick)]
    waves, skipped = _read(files)
    if len(waves) < MIN_FILES:
        unread = f", {skipped} unreadable" if skipped else ""
        return {"skipped": f"{len(waves)} readable held-out clean file(s){unread}; a calibration "
                           f"needs at least {MIN_FILES}"}
    noisy = min(settings["noisy_files"], len(waves))
    under = os.path.commonpath([os.path.abspath(f) for f in files])
    made_from = (f"{len(waves)} {where}, under {under} (end of vqkeras train, preset "
                 f"{recipe['preset']}); "
                 f"noisy copies of {noisy} with white, pink, brown and babble noise "
                 f"(seed {seed})")
    from vqkeras.api import ModelError, load_model
    from vqkeras.training.callbacks import atomic_save

    models = [p for p in (os.path.join(output_dir, name) for name in ("final.keras", "best.keras"))
              if os.path.exists(p)]
    if not models:
        return {"skipped": f"no final.keras in {output_dir}"}
    calibrated = []
    for path in models:
        try:
            model = load_model(path, task="qe")
            model.calibration = calibrate_waveforms(model, waves, noisy_files=noisy, seed=seed,
                                                    made_from=made_from)
        except (ModelError, ValueError) as err:  # e.g. no finite score: every model stays as it is
            return {"skipped": f"cannot calibrate {os.path.basename(path)}: {err}"}
        calibrated.append((model, path))
    for model, path in calibrated:
        atomic_save(model, path)
    return {"files": len(waves), "noisy_files": noisy, "where": where, "made_from": made_from,
            "models": models}
