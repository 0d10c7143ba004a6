"""A callback that keeps a trial's non-finite objective out of the tuner's
comparisons."""
import math
import sys

import keras


class ObjectiveGuard(keras.callbacks.Callback):
    """Replaces a non-finite objective value (a diverged trial, or constant
    scores with no correlation defined) by the worst value, so the tuner
    ranks the trial last instead of comparing NaNs.

    Args:
        name: str. The objective's name in the epoch logs.
        worst: float. The value written instead of a non-finite one.
    """

    def __init__(self, name, worst):
        super().__init__()
        self.name = name
        self.worst = worst

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.name not in logs:
            return
        value = float(logs[self.name])
        if not math.isfinite(value):
            print(f"vqkeras tune: {self.name} is {value} at epoch {epoch + 1}; counted as "
                  f"{self.worst:g}", file=sys.stderr)
            logs[self.name] = self.worst
