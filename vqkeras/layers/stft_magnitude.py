"""Magnitude spectrogram features for padded batches of waveforms."""
import math

import keras
from keras import ops


def frame_mask(lengths, num_frames, hop_length):
    """Float mask [batch, frames]: 1 for frames of a centred STFT of each item.

    A centred STFT of `n` samples has `1 + n // hop_length` frames.
    """
    valid = 1 + ops.floor_divide(ops.cast(lengths, "int32"), hop_length)
    frames = ops.arange(num_frames, dtype="int32")
    return ops.cast(frames[None, :] < valid[:, None], "float32")


def sample_mask(lengths, num_samples):
    """Float mask [batch, samples]: 1 for the valid samples of each item."""
    positions = ops.arange(num_samples, dtype="int32")[None, :]
    return ops.cast(positions < ops.cast(lengths, "int32")[:, None], "float32")


def reflect_pad_batch(waveform, lengths, pad):
    """Centre-pads every item by `pad` samples on each side, reflecting about
    the item's own first and last sample (its padding beyond `lengths` is
    ignored), so a padded batch gives the same frames as each item alone."""
    total = ops.shape(waveform)[1]
    lengths = ops.cast(lengths, "int32")[:, None]
    pos = ops.arange(total + 2 * pad, dtype="int32")[None, :] - pad
    pos = ops.abs(pos)
    last = lengths - 1
    pos = ops.where(pos > last, 2 * last - pos, pos)
    pos = ops.clip(pos, 0, ops.maximum(last, 0))
    pos = ops.minimum(pos, total - 1)
    # A flat 1-D gather: cheaper than take_along_axis on some backends.
    rows = ops.arange(ops.shape(waveform)[0], dtype="int32")[:, None] * total
    return ops.take(ops.reshape(waveform, (-1,)), pos + rows)


@keras.saving.register_keras_serializable(package="vqkeras")
class STFTMagnitude(keras.layers.Layer):
    """Magnitude of a centred short-time Fourier transform.

    Matches `torch.stft(..., center=True, pad_mode="reflect")` with a periodic
    window, followed by `sqrt(max(re^2 + im^2, floor))`. Frames are time
    steps and frequency bins are channels. Reflection padding is done per item
    from `lengths`, so an item in a zero-padded batch gets exactly the
    features it would get alone.

    Args:
        fft_length: int. FFT size and window length. Defaults to 512.
        hop_length: int. Hop between frames in samples. Defaults to 256.
        window: str. Window name understood by `keras.ops.stft`. Defaults to
            `"hann"` (periodic).
        power_floor: float. Lower bound on the power before the square root.
            Defaults to 1e-7.
        log1p: bool. Whether to return `log1p` of the magnitude. Defaults to
            `False`.
        log: bool. Whether to return `log(magnitude / sqrt(power_floor))`,
            a log magnitude that is 0 at the floor and never negative (a gain
            change shifts every bin above the floor by the same amount). Defaults to `False`;
            exclusive with `log1p`.

    Call arguments:
        waveform: float tensor [batch, samples].
        lengths: optional int tensor [batch] of valid samples per item.
            Defaults to every item being `samples` long.

    Returns:
        Float tensor [batch, 1 + samples // hop_length, fft_length // 2 + 1].

    Example:
    >>> feats = STFTMagnitude(hop_length=256)(np.zeros((2, 16000), "float32"))
    >>> feats.shape
    (2, 63, 257)
    """

    def __init__(self, fft_length=512, hop_length=256, window="hann",
                 power_floor=1e-7, log1p=False, log=False, **kwargs):
        super().__init__(**kwargs)
        if log1p and log:
            raise ValueError("STFTMagnitude: `log1p` and `log` are exclusive")
        self.fft_length = fft_length
        self.hop_length = hop_length
        self.window = window
        self.power_floor = power_floor
        self.log1p = log1p
        self.log = log

    def call(self, waveform, lengths=None):
        waveform = ops.cast(waveform, "float32")
        pad = self.fft_length // 2
        if lengths is None:
            lengths = ops.full((ops.shape(waveform)[0],), ops.shape(waveform)[1], "int32")
        padded = reflect_pad_batch(waveform, lengths, pad)
        real, imag = ops.stft(padded, self.fft_length, self.hop_length,
                              self.fft_length, window=self.window, center=False)
        magnitude = ops.sqrt(ops.maximum(real * real + imag * imag, self.power_floor))
        if self.log1p:
            magnitude = ops.log1p(magnitude)
        elif self.log:
            magnitude = ops.log(magnitude) - 0.5 * math.log(self.power_floor)
        return magnitude

    def compute_output_shape(self, waveform_shape, lengths_shape=None):
        samples = waveform_shape[1]
        frames = None if samples is None else 1 + samples // self.hop_length
        return (waveform_shape[0], frames, self.fft_length // 2 + 1)

    def get_config(self):
        config = super().get_config()
        config.update(fft_length=self.fft_length, hop_length=self.hop_length,
                      window=self.window, power_floor=self.power_floor,
                      log1p=self.log1p, log=self.log)
        return config
