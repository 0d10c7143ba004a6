"""Waveform from a magnitude spectrogram and a reference waveform's phase."""
import math

import keras
import numpy as np
from keras import ops

from vqkeras.layers.stft_magnitude import frame_mask, sample_mask


def periodic_window(name, length):
    n = np.arange(length, dtype=np.float64)
    if name == "hamming":
        w = 0.54 - 0.46 * np.cos(2 * math.pi * n / length)
    elif name == "hann":
        w = 0.5 - 0.5 * np.cos(2 * math.pi * n / length)
    else:
        raise ValueError(f"Unsupported window {name!r}; use 'hann' or 'hamming'.")
    return w.astype("float32")


def overlap_add(frames, hop_length):
    """Sums frames [B, T, L] placed every `hop_length` samples (L must be a
    multiple of the hop) -> [B, (T + L / hop - 1) * hop]."""
    batch, steps, length = ops.shape(frames)[0], ops.shape(frames)[1], frames.shape[-1]
    ratio = length // hop_length
    chunks = ops.reshape(frames, (batch, steps, ratio, hop_length))
    total = None
    for r in range(ratio):
        part = ops.pad(chunks[:, :, r, :], ((0, 0), (r, ratio - 1 - r), (0, 0)))
        total = part if total is None else total + part
    return ops.reshape(total, (batch, (steps + ratio - 1) * hop_length))


@keras.saving.register_keras_serializable(package="vqkeras")
class SpectralResynthesis(keras.layers.Layer):
    """Inverse STFT of a magnitude combined with a reference waveform's phase.

    The phase comes from a centred, zero-padded STFT of `waveform` with a
    periodic window; the inverse is a windowed overlap-add divided by the
    summed squared window (as `torch.istft`), trimmed to the input length.
    Only each item's own frames (from `lengths`) enter its overlap-add, so an
    item in a padded batch gets the waveform it would get alone.

    With `scale_input=True` the first argument is a gain instead: the
    input's own STFT (magnitude and phase) is multiplied by it, so a gain of
    1 everywhere gives the input back and a gain of at most 1 never makes a
    frequency band louder than the input.

    Args:
        fft_length: int. Defaults to 512.
        hop_length: int. Must divide `fft_length`. Defaults to 128.
        window: str. `"hamming"` or `"hann"`, periodic. Defaults to
            `"hamming"`.
        scale_input: bool. Whether the first call argument is a gain for the
            input's STFT rather than a magnitude. Defaults to `False`.

    Call arguments:
        magnitude: float tensor [batch, frames, fft_length // 2 + 1], linear
            magnitude (with `scale_input`, a gain).
        waveform: float tensor [batch, samples] giving the phase.
        lengths: optional int tensor [batch].

    Returns:
        Float tensor [batch, samples]; samples beyond each length are zero.
    """

    def __init__(self, fft_length=512, hop_length=128, window="hamming", scale_input=False,
                 **kwargs):
        super().__init__(**kwargs)
        if fft_length % hop_length:
            raise ValueError("hop_length must divide fft_length")
        self.fft_length = fft_length
        self.hop_length = hop_length
        self.window = window
        self.scale_input = bool(scale_input)
        self._window = periodic_window(window, fft_length)

    def call(self, magnitude, waveform, lengths=None):
        waveform = ops.cast(waveform, "float32")
        magnitude = ops.cast(magnitude, "float32")
        samples = ops.shape(waveform)[1]
        if lengths is None:
            lengths = ops.full((ops.shape(waveform)[0],), samples, "int32")
        lengths = ops.cast(lengths, "int32")
        valid = sample_mask(lengths, samples)
        waveform = waveform * valid
        pad = self.fft_length // 2
        window = ops.convert_to_tensor(self._window)
        real, imag = ops.stft(ops.pad(waveform, ((0, 0), (pad, pad))), self.fft_length,
                              self.hop_length, self.fft_length, window=window, center=False)
        steps = ops.shape(magnitude)[1]
        real, imag = real[:, :steps], imag[:, :steps]
        mask = frame_mask(lengths, steps, self.hop_length)[:, :, None]
        if self.scale_input:
            # `magnitude` is a gain for the input's own spectrum.
            gain = magnitude * mask
            frames = ops.irfft((gain * real, gain * imag), self.fft_length)
        else:
            radius = ops.sqrt(real * real + imag * imag)
            safe = ops.where(radius > 0, radius, 1.0)
            cos = ops.where(radius > 0, real / safe, 1.0)
            sin = ops.where(radius > 0, imag / safe, 0.0)
            magnitude = magnitude * mask
            frames = ops.irfft((magnitude * cos, magnitude * sin), self.fft_length)
        frames = frames * window[None, None, :]
        signal = overlap_add(frames, self.hop_length)
        envelope = overlap_add(mask * ops.square(window)[None, None, :], self.hop_length)
        signal = ops.where(envelope > 1e-11, signal / ops.maximum(envelope, 1e-11), 0.0)
        signal = signal[:, pad:pad + samples]
        return signal * valid

    def compute_output_shape(self, magnitude_shape, waveform_shape, lengths_shape=None):
        return waveform_shape

    def get_config(self):
        config = super().get_config()
        config.update(fft_length=self.fft_length, hop_length=self.hop_length, window=self.window,
                      scale_input=self.scale_input)
        return config
