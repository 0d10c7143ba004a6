"""Correlation of the model's VQScore with quality labels, as epoch metrics."""
import math
import os
import sys

import keras
import numpy as np

from vqkeras.evaluation.metrics import linear_correlation, rank_correlation


class VQScoreValidation(keras.callbacks.Callback):
    """Scores a labelled validation set with the model being trained and logs
    how well its VQScore follows the labels.

    At the end of every `frequency`-th epoch (and of the last one) the
    callback runs the model in inference mode on the validation waveforms
    (`vqkeras.inference.score_waveforms`, padded batches of similar lengths)
    and adds to the epoch logs:

    - `val_lcc`: Pearson linear correlation of VQScore and the label;
    - `val_srcc`: Spearman rank correlation.

    Both are higher-is-better, so `keras.callbacks.ModelCheckpoint(...,
    monitor="val_lcc", mode="max")`, `EarlyStopping` and Keras Tuner
    objectives (`keras_tuner.Objective("val_lcc", direction="max")`) can use
    them; `History`, `CSVLogger` and `TensorBoard` record them. Scoring is
    inference only: it changes no weight and no codebook state (the
    quantizer's EMA update runs only with `training=True`). On JAX the
    training state is first written back to the model (`jax_state_sync`).

    Items whose label is NaN or empty (e.g. a PESQ that could not be
    computed) are left out.

    Args:
        data: str, or list. A labels CSV written by
            `vqkeras.data.noisy_set.build_noisy_set` (or any CSV with a `path`
            column and the label column; relative paths are resolved against
            the CSV's folder), or a list of `(waveform, label)` pairs of 1-D
            16 kHz float arrays and floats.
        label: str. Label column of the CSV. Defaults to `"pesq"`.
        frequency: int. Score every this many epochs. Defaults to 1.
        batch_size: int. Waveforms per inference batch. Defaults to 16.
        variant: str. VQScore variant (`"cos_z"`, `"cos_x"`, `"l2_z"`,
            `"l2_x"`; see `vqkeras.inference`). Defaults to `"cos_z"`.
        prefix: str. Prefix of the logged names. Defaults to `"val_"`.
        verbose: int. 1 prints the correlations to stderr after each
            scoring. Defaults to 0.

    Example:
    >>> validation = VQScoreValidation("val_set/labels.csv", label="pesq")
    >>> best = keras.callbacks.ModelCheckpoint("best.keras", monitor="val_lcc",
    ...                                        mode="max", save_best_only=True)
    >>> model.fit(train_ds, epochs=20, steps_per_epoch=500,
    ...           callbacks=[validation, best])
    """

    def __init__(self, data, label="pesq", frequency=1, batch_size=16, variant="cos_z",
                 prefix="val_", verbose=0):
        super().__init__()
        if int(frequency) < 1:
            raise ValueError(f"frequency must be a positive number of epochs, got {frequency}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if isinstance(data, (str, os.PathLike)) and not os.path.isfile(data):
            raise FileNotFoundError(f"{os.fspath(data)}: no such validation labels CSV")
        self.data = data
        self.label = label
        self.frequency = int(frequency)
        self.batch_size = int(batch_size)
        self.variant = variant
        self.prefix = prefix
        self.verbose = verbose
        self.waveforms = None
        self.labels = None
        self.last_scores = None

    # ------------------------------------------------------------------ data
    def load(self):
        """Loads (once) the validation waveforms and labels.

        Returns:
            `(waveforms, labels)`: a list of float32 arrays and a float64
            array, items with non-finite labels left out.
        """
        if self.waveforms is not None:
            return self.waveforms, self.labels
        if isinstance(self.data, (str, os.PathLike)):
            from vqkeras.data.noisy_set_loader import load_noisy_set

            rows = load_noisy_set(self.data, load_audio=False)
            if rows and self.label not in rows[0]:
                raise ValueError(f"{os.fspath(self.data)}: no label column {self.label!r}; "
                                 f"columns are {', '.join(rows[0])}")
            pairs = [(row["path"], _to_float(row[self.label])) for row in rows]
            pairs = [(p, y) for p, y in pairs if math.isfinite(y)]
            from vqkeras.audio import read_audio

            waveforms = [read_audio(p)[0] for p, _ in pairs]
            labels = [y for _, y in pairs]
        else:
            waveforms, labels = [], []
            for item in self.data:
                if isinstance(item, dict):
                    wave, value = item["waveform"], item[self.label]
                else:
                    wave, value = item
                value = _to_float(value)
                if math.isfinite(value):
                    waveforms.append(np.asarray(wave, dtype=np.float32).reshape(-1))
                    labels.append(value)
        if len(waveforms) < 2:
            raise ValueError(f"VQScoreValidation needs at least 2 items with a finite "
                             f"{self.label!r} label; found {len(waveforms)}")
        self.waveforms = waveforms
        self.labels = np.asarray(labels, dtype=np.float64)
        return self.waveforms, self.labels

    # --------------------------------------------------------------- scoring
    def score(self, model=None):
        """VQScore of every validation item, in item order.

        Args:
            model: the model to score with. Defaults to the model being
                trained.

        Returns:
            A float64 array, one score per item.
        """
        from vqkeras.inference import score_waveforms

        model = model if model is not None else self.model
        if keras.backend.backend() == "jax" and hasattr(model, "jax_state_sync"):
            model.jax_state_sync()
        waveforms, _ = self.load()
        # Similar lengths share a batch: less padding, fewer distinct shapes.
        order = sorted(range(len(waveforms)), key=lambda i: (len(waveforms[i]), i))
        scores = np.empty(len(waveforms), dtype=np.float64)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            values = score_waveforms(model, [waveforms[i] for i in chunk], self.variant)
            scores[chunk] = values
        return scores

    def evaluate(self, model=None):
        """Correlations of the model's VQScore with the labels.

        Args:
            model: the model to score with. Defaults to the model being
                trained.

        Returns:
            A dict `{prefix + "lcc": float, prefix + "srcc": float}`.
        """
        scores = self.score(model)
        self.last_scores = scores
        return {
            f"{self.prefix}lcc": linear_correlation(scores, self.labels),
            f"{self.prefix}srcc": rank_correlation(scores, self.labels),
        }

    # ------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        self.load()

    def on_epoch_end(self, epoch, logs=None):
        epochs = (self.params or {}).get("epochs")
        if (epoch + 1) % self.frequency != 0 and not (epochs and epoch + 1 == epochs):
            return
        results = self.evaluate()
        if logs is not None:
            logs.update(results)
        if self.verbose:
            text = ", ".join(f"{k}={v:.4f}" for k, v in results.items())
            print(f"VQScoreValidation epoch {epoch + 1}: {text} "
                  f"({len(self.labels)} items, label {self.label!r})", file=sys.stderr)


def _to_float(value):
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
