"""Stage-1 training of the VQ-VAEs with model.fit."""
import os
import sys
import time

import keras

from vqkeras.tf_guard import set_random_seed
from vqkeras.training.callbacks import (HistoryCSV, PeriodicCheckpoint, StepTimer, StopOnNaN,
                                        atomic_save, fit_summary)
from vqkeras.training.distribution import training_distribution
from vqkeras.training.mixed_precision import dtype_policy_scope, wrap_optimizer


def training_files(recipe):
    """Training audio named by the recipe; with `data.split` pointing at a
    shared data folder, the default speaker split's training side."""
    from vqkeras.data.file_lists import collect_audio_files
    from vqkeras.data.splits import all_speech_split, default_speech_split

    data = recipe["data"]
    if data["split"]:
        # `data.speech: all` trains on every speech source, same held-out speakers
        split = all_speech_split if data.get("speech", "default") == "all" else default_speech_split
        train, _ = split(data["split"])
        return train + (collect_audio_files(data["train"]) if data["train"] else [])
    if not data["train"]:
        raise ValueError("recipe has no data.train sources")
    return collect_audio_files(data["train"])


def _train_stage2(recipe, steps, output_dir, verbose, extra_callbacks=()):
    from vqkeras.training.stage2 import train_stage2

    data, opt = recipe["data"], recipe["optimizer"]
    summary = train_stage2(recipe["init_from"], training_files(recipe), steps, output_dir,
                           batch_size=data["batch_size"], learning_rate=opt["learning_rate"],
                           beta_1=opt["beta_1"], beta_2=opt["beta_2"], seed=recipe["seed"],
                           crop_seconds=data["crop_seconds"],
                           checkpoint_every=recipe["checkpoint_every"],
                           steps_per_epoch=min(int(recipe["steps_per_epoch"]), steps),
                           epsilon_range=tuple(recipe["epsilon_range"]), verbose=verbose,
                           pipeline=data.get("pipeline", "auto"), workers=data.get("workers"),
                           dtype_policy=recipe.get("dtype_policy"),
                           extra_callbacks=extra_callbacks)
    summary.setdefault("preset", recipe["preset"])
    summary.setdefault("steps", steps)
    summary.setdefault("backend", keras.backend.backend())
    summary.setdefault("seconds_per_step", float("nan"))
    summary.setdefault("seconds", float("nan"))
    summary.setdefault("stopped_on_nan", None)
    summary.setdefault("last_epoch", {})
    summary.setdefault("final_model", os.path.join(output_dir, "student_final.keras"))
    return summary


def resumed_at(backup_dir, steps_per_epoch):
    """The step a run restarts at from `backup_dir` (the state
    `keras.callbacks.BackupAndRestore` left), 0 for a fresh run."""
    import json

    meta = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(meta):
        return 0
    try:
        with open(meta, encoding="utf-8") as f:
            return int(json.load(f).get("epoch", 0)) * int(steps_per_epoch)
    except (OSError, ValueError, TypeError):
        return 0


def build_validation_set(shared_data, out_dir):
    """Builds the default noisy validation set (held-out speakers and
    noises of a shared data folder) in `out_dir` and labels it with PESQ
    and STOI; returns its labels CSV."""
    from vqkeras.data.noisy_set import build_default_noisy_set
    from vqkeras.evaluation.set_labels import label_noisy_set

    return label_noisy_set(build_default_noisy_set(shared_data, out_dir))


def _labels_have(labels, label):
    """Whether a labels CSV has a `label` column with at least one value."""
    import csv

    with open(labels, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if label not in row:
                return False
            if (row[label] or "").strip():
                return True
    return False


def validation_labels(validation, label="pesq"):
    """The validation labels CSV; with `shared_data` set and no CSV yet, the
    default noisy set (held-out speakers and noises) is built there first.
    A CSV without values in the `label` column (e.g. PESQ left empty because
    the `[eval]` extra was missing when it was built) is rebuilt when
    `shared_data` is set; otherwise the error says how to fix it."""
    labels = validation.get("labels")
    if labels and os.path.exists(labels):
        if _labels_have(labels, label):
            return labels
        if not validation.get("shared_data"):
            raise ValueError(f"validation labels {labels} have no {label!r} values; rebuild the "
                             f"set (delete {os.path.dirname(labels) or '.'} and set "
                             "validation.shared_data) or name another validation.label")
        print(f"vqkeras train: {labels} has no {label!r} values (built without the [eval] "
              "extra?); rebuilding the validation set", file=sys.stderr)
        os.remove(labels)
    if validation.get("shared_data"):
        out_dir = os.path.dirname(labels) if labels else "runs/valset"
        built = build_validation_set(validation["shared_data"], out_dir)
        if not _labels_have(built, label):
            os.remove(built)  # never leave a set that blocks the next run
            hint = ' (install it with: pip install "vqkeras[eval]")' if label in ("pesq", "stoi") else ""
            raise ValueError(f"the validation set has no {label!r} labels: the [eval] extra is "
                             f"needed to compute them{hint}, or train with --no-validation")
        return built
    raise ValueError(f"validation labels {labels!r} not found; point --data validation.labels=CSV "
                     "at a labels file, or train with --no-validation")


def holdout_validation_pairs(files, seed=0):
    """`(noisy waveform, SNR)` pairs made from held-out clean files
    (`vqkeras.data.holdout_set.damaged_pairs`); unreadable files are
    skipped with a line on stderr."""
    from vqkeras.audio import AudioError, read_audio
    from vqkeras.data.holdout_set import damaged_pairs

    waves = []
    for path in files:
        try:
            waves.append(read_audio(path)[0])
        except AudioError as err:
            print(f"vqkeras train: validation file skipped: {err}", file=sys.stderr)
    pairs = damaged_pairs(waves, seed=seed)
    if len(pairs) < 3:
        raise ValueError("too few usable held-out files for validation; add files or train "
                         "with --no-validation")
    return pairs


def build_model(recipe):
    from vqkeras.models import build_from_preset

    overrides = dict(recipe["model"])
    overrides.setdefault("seed", recipe["seed"])
    return build_from_preset(recipe["preset"], **overrides)


def train(recipe, steps=None, output_dir=None, verbose="auto", extra_callbacks=()):
    """Runs a recipe: builds the model, streams crops, fits with checkpoints.

    Writes into `output_dir`: `model_XXXXXXX.keras` every `checkpoint_every`
    steps, `last.keras`, `best.keras` (highest `val_lcc` when a validation
    set is configured), `backup/` (resume state: a killed run restarts at the
    same step with the same codebook), `logs/` (TensorBoard) and
    `summary.json`. A quality model's `final.keras` and `best.keras` are
    then calibrated on held-out clean speech (recipe key `calibration`;
    `vqkeras.training.train_calibration`), and one line on stderr says on
    what or why not.

    With `distribution` set (`mirrored` on TensorFlow, `data_parallel` on
    JAX), the model is built, compiled and fitted data-parallel over every
    local device, `data.batch_size` being the global batch.

    Returns:
        The summary dict.
    """
    steps = int(steps or recipe["steps"])
    output_dir = output_dir or recipe["output_dir"]
    os.makedirs(output_dir, exist_ok=True)
    if recipe.get("stage", 1) == 2:
        if recipe.get("distribution"):
            raise ValueError("distribution is supported for stage-1 training only")
        return _train_stage2(recipe, steps, output_dir, verbose, extra_callbacks)
    with training_distribution(recipe.get("distribution")):
        summary, held_out = _train_stage1(recipe, steps, output_dir, verbose, extra_callbacks)
    # outside the distribution scope: the saved models are loaded as `vqkeras score` loads them
    from vqkeras.training.train_calibration import calibrate_trained
    calibrate_trained(recipe, output_dir, summary, held_out)
    return summary


def tensorboard_callback(log_dir):
    """`keras.callbacks.TensorBoard`, or None (with one info line) where
    TensorFlow, which it needs to write summaries, is not installed."""
    from vqkeras.tf_guard import import_tensorflow, tensorflow_available

    try:
        if not tensorflow_available():
            raise ImportError("not installed")
        import_tensorflow("TensorBoard logging")  # hides GPUs from it beside torch or JAX
    except ImportError:
        print("vqkeras train: TensorFlow is not installed, so no TensorBoard logs are written "
              "(history.csv has the same figures)", file=sys.stderr)
        return None
    return keras.callbacks.TensorBoard(log_dir, update_freq=50)


def training_input(recipe, files, steps_per_epoch, transform=None):
    """(dataset, callbacks, pipeline name) for a recipe: tf.data on the
    TensorFlow backend, the numpy `CropDataset` on JAX and torch, unless
    `data.pipeline` says otherwise."""
    from vqkeras.data.training_dataset import make_pipeline

    data = recipe["data"]
    return make_pipeline(files, pipeline=data.get("pipeline", "auto"),
                         batch_size=data["batch_size"], crop_seconds=data["crop_seconds"],
                         gain_range=tuple(data["gain_range"]), seed=recipe["seed"],
                         steps_per_epoch=steps_per_epoch, workers=data.get("workers"),
                         transform=transform)


def _train_stage1(recipe, steps, output_dir, verbose, extra_callbacks):
    set_random_seed(recipe["seed"])
    files = training_files(recipe)
    validation = recipe.get("validation")
    held_out = []
    if validation and validation.get("holdout"):
        from vqkeras.data.holdout_set import holdout_split
        files, held_out = holdout_split(files, float(validation["holdout"]), seed=recipe["seed"])
        print(f"vqkeras train: {len(held_out)} of {len(files) + len(held_out)} files held out "
              f"for validation (synthetic noise, label: SNR)", file=sys.stderr)
    steps_per_epoch = min(int(recipe["steps_per_epoch"]), steps)
    # the validation set first, so a problem with it stops the run at once
    if validation and held_out:
        validation_data = holdout_validation_pairs(held_out, seed=recipe["seed"])
        validation_label = "snr"
    elif validation:
        validation_label = validation.get("label", "pesq")
        validation_data = validation_labels(validation, validation_label)
    # ranking pairs (data.ranking) and fine-tuning from a stage-1 model (init_from)
    transform = None
    if recipe["data"].get("ranking"):
        from vqkeras.data.ranking_pairs import RankingPairs
        transform = RankingPairs(**recipe["data"]["ranking"])
    elif recipe["data"].get("augment"):
        from vqkeras.data.clean_augment import CleanAugment
        transform = CleanAugment(**recipe["data"]["augment"])
    dataset, data_callbacks, _ = training_input(recipe, files, steps_per_epoch,
                                                transform=transform)
    policy = recipe.get("dtype_policy")
    with dtype_policy_scope(policy):
        model = build_model(recipe)
    if recipe.get("init_from"):
        from vqkeras.api import load_model
        model.set_weights(load_model(recipe["init_from"], task=None).get_weights())
    opt = recipe["optimizer"]
    optimizer = keras.optimizers.Adam(opt["learning_rate"], beta_1=opt["beta_1"],
                                      beta_2=opt["beta_2"])
    model.compile(optimizer=wrap_optimizer(optimizer, policy))
    epochs = max(1, -(-steps // steps_per_epoch))
    timer, nan_guard = StepTimer(), StopOnNaN()
    callbacks = data_callbacks + [nan_guard, timer]
    if validation:
        from vqkeras.training.validation_callback import VQScoreValidation
        callbacks.append(VQScoreValidation(validation_data, label=validation_label))
        callbacks.append(keras.callbacks.ModelCheckpoint(os.path.join(output_dir, "best.keras"),
                                                         monitor="val_lcc", mode="max",
                                                         save_best_only=True))
    callbacks += [
        PeriodicCheckpoint(output_dir, every_steps=recipe["checkpoint_every"]),
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "backup"),
                                         delete_checkpoint=False),
        tensorboard_callback(os.path.join(output_dir, "logs")),
        HistoryCSV(os.path.join(output_dir, "history.csv")),
    ]
    callbacks = [c for c in callbacks if c is not None]
    callbacks += list(extra_callbacks)
    resumed_step = resumed_at(os.path.join(output_dir, "backup"), steps_per_epoch)
    if resumed_step:
        print(f"vqkeras train: resuming from {os.path.join(output_dir, 'backup')} at step "
              f"{resumed_step} of {epochs * steps_per_epoch}", file=sys.stderr)
    start = time.time()
    try:
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            callbacks=callbacks, verbose=verbose, shuffle=False)
    finally:
        if hasattr(dataset, "close"):
            dataset.close()  # stops numpy-pipeline workers
    final = os.path.join(output_dir, "final.keras")
    atomic_save(model, final)
    best = {}
    if validation and history.history.get("val_lcc"):
        best["best_val_lcc"] = max(float(v) for v in history.history["val_lcc"])
    summary = fit_summary(history, timer, nan_guard, start, final, output_dir,
                          preset=recipe["preset"], steps=steps, training_files=len(files),
                          resumed_from_step=resumed_step,
                          steps_run=max(0, epochs * steps_per_epoch - resumed_step),
                          dtype_policy=policy or "float32", **best)
    if nan_guard.message:
        print(f"vqkeras train: {nan_guard.message}", file=sys.stderr)
    return summary, held_out
