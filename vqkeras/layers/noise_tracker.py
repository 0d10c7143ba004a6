"""Noise power spectrum tracked from the noisy input itself."""
import keras
from keras import ops

# Stands in for "no value" in the sliding minimum (padded frames, edges).
_LARGE = 1e30


def masked_moving_average(values, mask, frames):
    """Centred moving average over time of [batch, time, freq] `values`,
    counting only frames where `mask` [batch, time] is 1 (so padding beyond
    an item's length never enters its valid frames). `frames` is odd."""
    if frames <= 1:
        return values
    half = frames // 2
    weights = ops.cast(mask, values.dtype)[:, :, None]
    pad = ((0, 0), (half, half), (0, 0))
    total = ops.average_pool(ops.pad(values * weights, pad), frames, 1, padding="valid")
    count = ops.average_pool(ops.pad(weights, pad), frames, 1, padding="valid")
    return total / ops.maximum(count, 1e-6)


def masked_moving_minimum(values, mask, frames):
    """Centred sliding minimum over time (`frames` wide, odd) of
    [batch, time, freq] `values`, ignoring frames where `mask` is 0."""
    half = frames // 2
    valid = ops.cast(mask, "bool")[:, :, None]
    hidden = ops.where(valid, -values, -_LARGE)
    padded = ops.pad(hidden, ((0, 0), (half, half), (0, 0)), constant_values=-_LARGE)
    return -ops.max_pool(padded, frames, 1, padding="valid")


@keras.saving.register_keras_serializable(package="vqkeras")
class NoiseTracker(keras.layers.Layer):
    """Noise power per time-frequency bin by minimum statistics.

    After Martin (2001): speech pauses leave the noise power as the floor of
    the smoothed power in each frequency bin, so the minimum of the smoothed
    periodogram over a window longer than a word (about 1 s), times a bias
    factor that compensates for taking a minimum, estimates the noise power
    even while speech is present. This version is non-recursive so it runs
    as a few pooling operations on every backend: the smoothing is a centred
    moving average of `smooth_frames` frames and the minimum is taken over a
    centred window of `window_frames` frames (the whole file is at hand when
    enhancing, so the window looks both ways). The estimate never exceeds the
    smoothed power itself, which lets it follow a falling noise level within
    the window. Only each item's valid frames (from `mask`) are used.

    Args:
        window_frames: int, odd. Frames in the minimum window. Defaults to
            151 (1.2 s at a 128-sample hop, 16 kHz).
        smooth_frames: int, odd. Frames in the power smoothing. Defaults to
            9.
        bias: float >= 1. Multiplies the minimum. Defaults to 2.0.
        floor: float. Smallest noise power returned. Defaults to 1e-10.

    Call arguments:
        power: float tensor [batch, frames, bins], |STFT|^2 of the input.
        mask: float tensor [batch, frames], 1 for valid frames.

    Returns:
        Float tensor [batch, frames, bins], the noise power.

    Reference:
        R. Martin, "Noise power spectral density estimation based on optimal
        smoothing and minimum statistics", IEEE Trans. Speech and Audio
        Processing 9(5), 2001.
    """

    def __init__(self, window_frames=151, smooth_frames=9, bias=2.0, floor=1e-10, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("window_frames", window_frames), ("smooth_frames", smooth_frames)):
            if int(value) < 1 or int(value) % 2 == 0:
                raise ValueError(f"{name} must be a positive odd integer, got {value!r}")
        if float(bias) < 1.0:
            raise ValueError(f"bias must be >= 1, got {bias!r}")
        self.window_frames = int(window_frames)
        self.smooth_frames = int(smooth_frames)
        self.bias = float(bias)
        self.floor = float(floor)

    def call(self, power, mask):
        power = ops.cast(power, "float32")
        smoothed = masked_moving_average(power, mask, self.smooth_frames)
        minimum = masked_moving_minimum(smoothed, mask, self.window_frames)
        noise = ops.minimum(self.bias * minimum, smoothed)
        return ops.maximum(noise, self.floor)

    def compute_output_shape(self, power_shape, mask_shape=None):
        return power_shape

    def get_config(self):
        config = super().get_config()
        config.update(window_frames=self.window_frames, smooth_frames=self.smooth_frames,
                      bias=self.bias, floor=self.floor)
        return config
