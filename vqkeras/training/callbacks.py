"""Training callbacks: periodic atomic checkpoints, NaN guard, progress."""
import json
import math
import os
import sys
import time

import keras


def atomic_save(model, path):
    """Saves `model` to `path` via a temporary file and a rename, so a killed
    run never leaves a truncated checkpoint."""
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = path + ".tmp.keras"
    from vqkeras.tf_guard import keep_keras_off_tensorflow
    keep_keras_off_tensorflow()  # Keras' save would import TensorFlow just to probe it
    if keras.backend.backend() == "jax" and hasattr(model, "jax_state_sync"):
        model.jax_state_sync()
    model.save(tmp)
    os.replace(tmp, path)


def _finite_loss(logs):
    loss = (logs or {}).get("loss")
    return loss is None or math.isfinite(float(loss))


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves `model_{step:07d}.keras` every `every_steps` training steps, and
    `last.keras` at the end of every epoch (both atomically).

    Args:
        directory: str. Where checkpoints go.
        every_steps: int. Defaults to 1000.
        keep: int or None. How many periodic checkpoints to keep (oldest go
            first). Defaults to None (all).
    """

    def __init__(self, directory, every_steps=1000, keep=None):
        super().__init__()
        self.directory = directory
        self.every_steps = every_steps
        self.keep = keep
        self.step = 0
        self.saved = []
        self.broken = False

    def on_epoch_begin(self, epoch, logs=None):
        # Global step from the epoch, so a run resumed by BackupAndRestore
        # keeps numbering its checkpoints where it stopped.
        self._epoch_start = epoch * (self.params.get("steps") or 0)

    def on_train_batch_end(self, batch, logs=None):
        self.step = getattr(self, "_epoch_start", 0) + batch + 1
        if not _finite_loss(logs):
            self.broken = True  # never overwrite good checkpoints with a NaN model
        if self.every_steps and self.step % self.every_steps == 0 and not self.broken:
            path = os.path.join(self.directory, f"model_{self.step:07d}.keras")
            atomic_save(self.model, path)
            self.saved.append(path)
            if self.keep and len(self.saved) > self.keep:
                old = self.saved.pop(0)
                if os.path.exists(old):
                    os.remove(old)

    def on_epoch_end(self, epoch, logs=None):
        if not self.broken:
            atomic_save(self.model, os.path.join(self.directory, "last.keras"))


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss with a clear message; the
    checkpoints written before it are left as they are."""

    def __init__(self):
        super().__init__()
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        if not _finite_loss(logs):
            self.message = (f"loss became {float(logs['loss'])} at batch {batch}; training stopped. "
                            "The last good checkpoint is kept; lower the learning rate or "
                            "check the data for silent or corrupt files.")
            print(f"\nvqkeras: {self.message}", file=sys.stderr)
            self.model.stop_training = True


class StepTimer(keras.callbacks.Callback):
    """Records wall time per training step (after the first, compiling, one)."""

    def __init__(self):
        super().__init__()
        self.times = []
        self._t = None

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._t)

    def seconds_per_step(self):
        steady = self.times[1:] or self.times
        return sum(steady) / max(len(steady), 1)


def fit_summary(history, timer, nan_guard, start, final_model, output_dir, **fields):
    """The summary of a finished `fit` (backend, timing, NaN stop, final
    model, last-epoch metrics and full history, plus `fields`), also written
    to `output_dir/summary.json`."""
    logs = {k: [float(x) for x in v] for k, v in history.history.items()}
    summary = {"backend": keras.backend.backend(), **fields,
               "seconds": round(time.time() - start, 1),
               "seconds_per_step": round(timer.seconds_per_step(), 4),
               "stopped_on_nan": nan_guard.message,
               "final_model": final_model,
               "last_epoch": {k: v[-1] for k, v in logs.items() if v},
               "history": logs}
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


class HistoryCSV(keras.callbacks.Callback):
    """Appends one row per epoch to a CSV: `epoch` and the epoch logs.

    Unlike `keras.callbacks.CSVLogger`, no `val_*` columns are invented for
    a run without validation. A resumed run appends under the header the
    file already has (a metric it lacks is left empty, a new one is not
    added); lines end in `\\n`.

    Args:
        path: str. The CSV file.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.columns = None

    def on_train_begin(self, logs=None):
        import csv

        self.columns = None
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="", encoding="utf-8") as f:
                self.columns = next(csv.reader(f), None)

    def on_epoch_end(self, epoch, logs=None):
        import csv

        logs = {k: v for k, v in (logs or {}).items()}
        new = self.columns is None
        if new:
            self.columns = ["epoch"] + sorted(logs)
        row = {"epoch": epoch, **{k: float(v) for k, v in logs.items()}}
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore",
                                    lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow(row)
