"""Vocal-tract-length perturbation of clean speech (training augmentation).

The short-time spectrum of each frame is stretched along frequency by a
factor `alpha`: frequencies below a boundary move to `alpha * f`, and the
band above the boundary is mapped linearly so that the Nyquist frequency
stays where it is (the piecewise-linear warp of Jaitly & Hinton, 2013).
Formants move as they would for a shorter (alpha > 1) or longer (alpha < 1)
vocal tract; duration is unchanged. The warp acts on magnitudes, phases
follow as in a phase vocoder, and the frames are overlap-added back into a
waveform of the same length. Warping stretches each partial's window lobe
along with the spectrum, so the output is 1-2 dB quieter than the input at
alpha = 0.9 or 1.1; the training pipeline's random gain makes that moot.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FRAME = 512
HOP = 128


def _overlap_add(frames):
    """Frames [count, FRAME] overlap-added at HOP -> [HOP * (count - 1) + FRAME]."""
    count = frames.shape[0]
    parts = FRAME // HOP
    out = np.zeros((count + parts - 1, HOP))
    for q in range(parts):
        out[q:q + count] += frames[:, q * HOP:(q + 1) * HOP]
    return out.reshape(-1)


def _warp_sources(alpha, bins, boundary=0.8):
    """Source frequency (in bins, float) for every output bin.

    `boundary` is the fraction of the Nyquist frequency where the linear
    part of the warp ends (measured on the output axis, min(alpha, 1)
    scaled so the warp stays monotonic).
    """
    top = bins - 1
    out = np.arange(bins, dtype=np.float64)
    knee_out = boundary * top * min(alpha, 1.0)     # output frequency of the knee
    knee_in = knee_out / alpha
    src = np.where(out <= knee_out, out / alpha,
                   knee_in + (out - knee_out) * (top - knee_in) / max(top - knee_out, 1e-9))
    return np.clip(src, 0.0, top)


def _nearest_peak(mag):
    """For every bin of every frame, the index of the nearest local maximum
    of that frame's magnitude (ties to the lower one)."""
    frames, bins = mag.shape
    left = np.concatenate([np.full((frames, 1), -np.inf), mag[:, :-1]], axis=1)
    right = np.concatenate([mag[:, 1:], np.full((frames, 1), -np.inf)], axis=1)
    is_peak = (mag >= left) & (mag > right)
    index = np.broadcast_to(np.arange(bins), mag.shape)
    below = np.maximum.accumulate(np.where(is_peak, index, -1), axis=1)
    above = np.minimum.accumulate(np.where(is_peak, index, bins)[:, ::-1], axis=1)[:, ::-1]
    below_ok = below >= 0
    above_ok = above < bins
    take_above = above_ok & (~below_ok | (above - index < index - below))
    return np.where(take_above, above, np.where(below_ok, below, index))


def vtlp(waveform, alpha):
    """Warps the spectral envelope of `waveform` by `alpha`.

    Args:
        waveform: 1-D float array (any rate; the warp is relative to Nyquist).
        alpha: float > 0. 1 returns the input unchanged.

    Returns:
        float32 array of the same length, peak-limited to 1.
    """
    from scipy import fft

    x = np.asarray(waveform, np.float64)
    if abs(alpha - 1.0) < 1e-6 or x.size < FRAME:
        return x.astype(np.float32)
    window = np.hanning(FRAME + 1)[:-1]
    pad = FRAME
    padded = np.pad(x, (pad, pad + HOP))
    frames = sliding_window_view(padded, FRAME)[::HOP] * window
    spec = fft.rfft(frames, axis=1)
    bins = spec.shape[1]
    src = _warp_sources(float(alpha), bins)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, bins - 1)
    frac = src - lo
    mag = np.abs(spec)
    warped_mag = mag[:, lo] * (1.0 - frac) + mag[:, hi] * frac
    # Phases as a phase vocoder with identity phase locking sets them: each
    # spectral peak advances by its source bin's instantaneous frequency
    # (from the phase advance over one hop) scaled by the warp, and the bins
    # around a peak keep their source phase offsets to it, so a moved partial
    # stays one windowed sinusoid. Source phases taken as they are would keep
    # the old frequencies' advance, and overlap-add would cancel the partials.
    nearest = np.rint(src).astype(np.int64)
    centre = 2.0 * np.pi * HOP * np.arange(bins) / FRAME
    phase = np.angle(spec)
    advance = np.diff(phase, axis=0) - centre
    advance = centre + advance - (2.0 * np.pi) * np.floor((advance + np.pi) / (2.0 * np.pi))
    ratio = np.where(src > 0, np.arange(bins) / np.maximum(src, 1e-9), float(alpha))
    vocoder = np.empty_like(warped_mag)
    vocoder[0] = phase[0, nearest]
    vocoder[1:] = phase[0, nearest] + np.cumsum(advance[:, nearest] * ratio, axis=0)
    peak = _nearest_peak(warped_mag)
    rows = np.arange(warped_mag.shape[0])[:, None]
    src_phase = phase[:, nearest]
    out_phase = vocoder[rows, peak] + src_phase - src_phase[rows, peak]
    out_spec = np.empty(warped_mag.shape, np.complex128)
    out_spec.real = warped_mag * np.cos(out_phase)
    out_spec.imag = warped_mag * np.sin(out_phase)
    out_frames = fft.irfft(out_spec, n=FRAME, axis=1) * window
    y = _overlap_add(out_frames)
    norm = _overlap_add(np.broadcast_to(window ** 2, out_frames.shape))
    y = y[pad:pad + x.size] / np.maximum(norm[pad:pad + x.size], 1e-8)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:
        y /= peak
    return y.astype(np.float32)
