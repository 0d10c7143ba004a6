"""How close the enhancer's output for noisy speech comes to the clean
spectrum, as epoch metrics (the objective of the enhancer's codebook
search)."""
import os

import keras
import numpy as np


class EnhancementValidation(keras.callbacks.Callback):
    """Measures, on pairs of noisy and clean recordings, how close the
    enhancer's output for the noisy input comes to the clean spectrum, and
    logs it at the end of every epoch.

    Logged values (all on the model's feature scale, i.e. log1p magnitudes
    for the enhancer, the scale its training loss uses):

    - `val_denoise_sc` (the tuning objective, lower is better): spectral
      convergence `|X_clean - decoded(noisy)|_1 / |X_clean|_1`, mean over
      items.
    - `val_clean_sc`: the same for the clean input (plain reconstruction).
    - `val_code_agreement`: fraction of frames whose code index is the same
      for the noisy and the clean version of an item.

    Why `val_denoise_sc` is the objective: a stage-1 enhancer removes noise
    only because its codebook cannot represent it, so the codebook has to be
    coarse enough to drop noise and fine enough to rebuild speech.
    `val_code_agreement` alone rewards coarseness (a collapsed codebook that
    uses one code agrees on every frame) and ignores the decoder;
    `val_clean_sc` alone rewards capacity (larger and wider codebooks
    rebuild clean speech better, and the noise too). The spectral
    convergence of the output for the noisy input against the clean target
    is high at both extremes, so it measures the trade-off the search is
    about; it is the job the model does at inference, needs no PESQ (no
    `[eval]` extra) and no phase or resynthesis, and costs two inference
    passes. The other two values are logged to explain a result.

    Inference only: no weight or codebook state changes. On JAX the training
    state is first written back to the model (`jax_state_sync`).

    Args:
        data: str, or list. A labels CSV with `path` and `clean_path` columns
            (as written by `vqkeras.data.noisy_set.build_noisy_set`; rows
            without `clean_path` are skipped), or a list of `(noisy, clean)`
            pairs of 1-D 16 kHz float arrays of equal length.
        batch_size: int. Items per inference batch. Defaults to 8.
        max_items: int or None. Use only the first this many items.
            Defaults to None (all).
        prefix: str. Prefix of the logged names. Defaults to `"val_"`.

    Example:
    >>> validation = EnhancementValidation("val_set/labels.csv")
    >>> model.fit(train_ds, epochs=2, steps_per_epoch=100, callbacks=[validation])
    """

    def __init__(self, data, batch_size=8, max_items=None, prefix="val_"):
        super().__init__()
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if isinstance(data, (str, os.PathLike)) and not os.path.isfile(data):
            raise FileNotFoundError(f"{os.fspath(data)}: no such validation labels CSV")
        self.data = data
        self.batch_size = int(batch_size)
        self.max_items = max_items
        self.prefix = prefix
        self.pairs = None

    def load(self):
        """Loads (once) the `(noisy, clean)` float32 waveform pairs."""
        if self.pairs is not None:
            return self.pairs
        if isinstance(self.data, (str, os.PathLike)):
            from vqkeras.data.noisy_set_loader import load_noisy_set

            items = load_noisy_set(self.data, with_clean=True)
            pairs = [(item["waveform"], item["clean"]) for item in items if "clean" in item]
        else:
            pairs = [(np.asarray(noisy, np.float32).reshape(-1),
                      np.asarray(clean, np.float32).reshape(-1)) for noisy, clean in self.data]
        if self.max_items:
            pairs = pairs[:int(self.max_items)]
        if not pairs:
            raise ValueError("EnhancementValidation needs at least one (noisy, clean) pair; "
                             "a labels CSV needs a filled clean_path column")
        self.pairs = pairs
        return pairs

    def evaluate(self, model=None):
        """The logged values for `model` (defaults to the model being
        trained), as a dict of floats."""
        from vqkeras.inference import run_model

        model = model if model is not None else self.model
        if keras.backend.backend() == "jax" and hasattr(model, "jax_state_sync"):
            model.jax_state_sync()
        pairs = self.load()
        order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), i))
        denoise, clean_sc, agree, frames = [], [], 0, 0
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            noisy = run_model(model, [pairs[i][0] for i in chunk], keys=("decoded", "indices"))
            clean = run_model(model, [pairs[i][1] for i in chunk],
                              keys=("features", "decoded", "indices"))
            for a, b in zip(noisy, clean):
                n = min(len(a["indices"]), len(b["indices"]))
                target = b["features"][:n].astype(np.float64)
                scale = max(float(np.sum(np.abs(target))), 1e-12)
                denoise.append(float(np.sum(np.abs(target - a["decoded"][:n])) / scale))
                clean_sc.append(float(np.sum(np.abs(target - b["decoded"][:n])) / scale))
                agree += int(np.sum(a["indices"][:n] == b["indices"][:n]))
                frames += n
        return {
            f"{self.prefix}denoise_sc": float(np.mean(denoise)),
            f"{self.prefix}clean_sc": float(np.mean(clean_sc)),
            f"{self.prefix}code_agreement": agree / max(frames, 1),
        }

    def on_train_begin(self, logs=None):
        self.load()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.evaluate())
