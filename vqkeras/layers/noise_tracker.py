"""Noise power spectrum tracked from the noisy input itself."""
import math

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

    With `presence_window_frames > 0` the minimum-statistics estimate is only
    a first pass: it gives each bin a speech-presence probability, the
    a-posteriori one of Gerkmann and Hendriks (2012) for a typical speech
    SNR of `presence_snr_db`,
    p = 1 / (1 + (1 + xi) exp(-gamma xi / (1 + xi))), with gamma the
    power (smoothed over `presence_smooth_frames`) over the current noise
    estimate. The noise is then the average of the power over a centred
    window of `presence_window_frames`, each frame weighted by 1 - p, so it
    follows noise that rises or changes within a second (babble, dishes,
    running water) where the minimum lags behind. Where less than
    `min_noise_share` of the window is noise-only the estimate blends back
    towards the first pass. `presence_iterations` repeats this with the new
    estimate. Non-recursive, a few pooling operations per iteration.

    Args:
        window_frames: int, odd. Frames in the minimum window. Defaults to
            151 (1.2 s at a 128-sample hop, 16 kHz).
        smooth_frames: int, odd. Frames in the power smoothing. Defaults to
            9.
        bias: float >= 1. Multiplies the minimum. Defaults to 2.0.
        floor: float. Smallest noise power returned. Defaults to 1e-10.
        presence_window_frames: int, 0 or odd. Window of the presence-weighted
            average; 0 keeps plain minimum statistics. Defaults to 0.
        presence_snr_db: float. Typical speech SNR of the presence
            probability. Defaults to 15.
        presence_smooth_frames: int, odd. Power smoothing for the presence
            probability. Defaults to 3.
        presence_iterations: int >= 1. Defaults to 1.
        min_noise_share: float in (0, 1]. Share of noise-only frames in the
            window needed to trust the weighted average fully. Defaults to
            0.1.

    Call arguments:
        power: float tensor [batch, frames, bins], |STFT|^2 of the input.
        mask: float tensor [batch, frames], 1 for valid frames.

    Returns:
        Float tensor [batch, frames, bins], the noise power.

    References:
        R. Martin, "Noise power spectral density estimation based on optimal
        smoothing and minimum statistics", IEEE Trans. Speech and Audio
        Processing 9(5), 2001. T. Gerkmann and R. C. Hendriks, "Unbiased
        MMSE-based noise power estimation with low complexity and low
        tracking delay", IEEE Trans. ASLP 20(4), 2012.
    """

    def __init__(self, window_frames=151, smooth_frames=9, bias=2.0, floor=1e-10,
                 presence_window_frames=0, presence_snr_db=15.0, presence_smooth_frames=3,
                 presence_iterations=1, min_noise_share=0.1, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("window_frames", window_frames), ("smooth_frames", smooth_frames),
                            ("presence_smooth_frames", presence_smooth_frames)):
            if int(value) < 1 or int(value) % 2 == 0:
                raise ValueError(f"{name} must be a positive odd integer, got {value!r}")
        if int(presence_window_frames) < 0 or (int(presence_window_frames) > 0
                                               and int(presence_window_frames) % 2 == 0):
            raise ValueError("presence_window_frames must be 0 or a positive odd integer, "
                             f"got {presence_window_frames!r}")
        if float(bias) < 1.0:
            raise ValueError(f"bias must be >= 1, got {bias!r}")
        if int(presence_iterations) < 1:
            raise ValueError(f"presence_iterations must be >= 1, got {presence_iterations!r}")
        if not 0.0 < float(min_noise_share) <= 1.0:
            raise ValueError(f"min_noise_share must be in (0, 1], got {min_noise_share!r}")
        self.window_frames = int(window_frames)
        self.smooth_frames = int(smooth_frames)
        self.bias = float(bias)
        self.floor = float(floor)
        self.presence_window_frames = int(presence_window_frames)
        self.presence_snr_db = float(presence_snr_db)
        self.presence_smooth_frames = int(presence_smooth_frames)
        self.presence_iterations = int(presence_iterations)
        self.min_noise_share = float(min_noise_share)

    def call(self, power, mask):
        power = ops.cast(power, "float32")
        smoothed = masked_moving_average(power, mask, self.smooth_frames)
        minimum = masked_moving_minimum(smoothed, mask, self.window_frames)
        noise = ops.maximum(ops.minimum(self.bias * minimum, smoothed), self.floor)
        if self.presence_window_frames > 0:
            for _ in range(self.presence_iterations):
                noise = self.presence_weighted(power, noise, mask)
        return noise

    def presence_weighted(self, power, noise, mask):
        """One pass of the presence-weighted average (see the class)."""
        xi = 10.0 ** (self.presence_snr_db / 10.0)
        gamma = masked_moving_average(power, mask, self.presence_smooth_frames) / noise
        # p = 1 / (1 + (1 + xi) exp(-gamma xi / (1 + xi))), as a sigmoid
        presence = ops.sigmoid(gamma * (xi / (1.0 + xi)) - math.log1p(xi))
        weights = (1.0 - presence) * ops.cast(mask, "float32")[:, :, None]
        frames = self.presence_window_frames
        pad = ((0, 0), (frames // 2, frames // 2), (0, 0))
        total = ops.average_pool(ops.pad(power * weights, pad), frames, 1, padding="valid")
        share = ops.average_pool(ops.pad(weights, pad), frames, 1, padding="valid")
        tracked = total / ops.maximum(share, 1e-6)
        trust = ops.clip(share / self.min_noise_share, 0.0, 1.0)
        return ops.maximum(trust * tracked + (1.0 - trust) * noise, self.floor)

    def compute_output_shape(self, power_shape, mask_shape=None):
        return power_shape

    def get_config(self):
        config = super().get_config()
        config.update(window_frames=self.window_frames, smooth_frames=self.smooth_frames,
                      bias=self.bias, floor=self.floor,
                      presence_window_frames=self.presence_window_frames,
                      presence_snr_db=self.presence_snr_db,
                      presence_smooth_frames=self.presence_smooth_frames,
                      presence_iterations=self.presence_iterations,
                      min_noise_share=self.min_noise_share)
        return config
