"""Synthetic degradations of clean speech for label-free ranking training.

Every distortion is made from the crop itself or synthesised here (coloured
noise, babble from other crops, synthetic room responses); no recorded noise
or RIR is used, so the recorded ones in `../shared/data` stay for validation.
Each kind (`degradation_kinds.KINDS`) takes a `severity` in [0, 1] (0 =
mildest setting, 1 = harshest) and a `numpy.random.Generator`, keeps the
input's length, and is deterministic for a given generator state.

`degrade` damages one crop. The ranking pipeline damages a whole batch
with `degradation_draws.draw_degradation` (one crop's random draws, the same
draws in the same order as `degrade` makes them) and
`degradation_rendering.render_degradations` (the signal processing for all
rows at once); both are importable from here too.

Example:
>>> rng = np.random.default_rng(0)
>>> noisy = degrade(clean, "white_noise", 0.7, rng)
>>> damaged, kind, severity = random_degradation(clean, rng, others=[other_crop])
"""
import numpy as np

from vqkeras.data.batch_dsp import overlap_add
# draw_degradation and render_degradations: importable from here, as before.
from vqkeras.data.degradation_draws import draw_degradation  # noqa: F401
from vqkeras.data.degradation_kinds import (KINDS, SAMPLE_RATE, check_degradation,
                                            clipped_fraction, dropout_fraction,
                                            kept_bin_fraction, lowpass_cutoff_hz, noise_snr_db,
                                            quantize_bits, reverb_drr_db, reverb_noise_snr_db,
                                            reverb_rt60)
from vqkeras.data.degradation_rendering import render_degradations  # noqa: F401


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def coloured_noise(num_samples, colour, rng):
    """Gaussian noise with power spectrum 1/f^a: a = 0 (white), 1 (pink),
    2 (brown); unit RMS."""
    exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[colour]
    white = rng.standard_normal(num_samples)
    if exponent == 0.0:
        return white / _rms(white)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(num_samples)
    freqs[0] = freqs[1] if num_samples > 1 else 1.0
    shaped = np.fft.irfft(spectrum / freqs ** (exponent / 2.0), num_samples)
    shaped -= shaped.mean()
    return shaped / _rms(shaped)


def add_at_snr(speech, noise, snr_db):
    """`speech + g * noise` with the energy ratio set to `snr_db`."""
    gain = _rms(speech) / (_rms(noise) * 10.0 ** (snr_db / 20.0))
    return speech + gain * noise


def babble(num_samples, others, rng, talkers=None):
    """Sum of 3-6 other crops (circularly shifted at random), unit RMS;
    falls back to speech-shaped (pink) noise without `others`."""
    others = [np.asarray(o, np.float64) for o in (others or []) if np.asarray(o).size > 0]
    if not others:
        return coloured_noise(num_samples, "pink", rng)
    talkers = talkers or int(rng.integers(3, 7))
    mix = np.zeros(num_samples)
    for _ in range(talkers):
        src = others[int(rng.integers(len(others)))]
        src = np.resize(src, num_samples)
        src = np.roll(src, int(rng.integers(num_samples)))
        mix += src / _rms(src)
    return mix / _rms(mix)


def synthetic_rir(rt60, rng, sample_rate=SAMPLE_RATE, direct_to_reverb_db=None):
    """A room response: a unit direct path, then Gaussian noise decaying
    by 60 dB over `rt60` seconds, starting 2-5 ms later (early reflections
    included in the tail)."""
    length = int(min(rt60, 2.0) * sample_rate) + 1
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60)
    onset = int(rng.uniform(0.002, 0.005) * sample_rate)
    tail[:onset] = 0.0
    if direct_to_reverb_db is None:
        direct_to_reverb_db = rng.uniform(-6.0, 6.0)
    tail *= 1.0 / (np.sqrt(np.sum(tail ** 2)) * 10.0 ** (direct_to_reverb_db / 20.0))
    tail[0] = 1.0
    return tail


def convolve_same(x, h):
    """Causal convolution trimmed to `x`'s length, RMS kept."""
    size = x.size + h.size - 1
    nfft = 1 << (size - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(h, nfft), nfft)[:x.size]
    return wet * (_rms(x) / _rms(wet))


def hard_clip(x, fraction):
    """Clips the `fraction` of samples of largest magnitude."""
    level = float(np.quantile(np.abs(x), 1.0 - fraction))
    return np.clip(x, -level, level)


def low_pass(x, cutoff_hz, sample_rate=SAMPLE_RATE, transition_hz=200.0):
    """Zero-phase FFT low-pass with a raised-cosine roll-off."""
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    pos = np.clip((freqs - (cutoff_hz - transition_hz / 2)) / transition_hz, 0.0, 1.0)
    return np.fft.irfft(np.fft.rfft(x) * 0.5 * (1.0 + np.cos(np.pi * pos)), x.size)


def quantize(x, bits):
    """Uniform quantisation to `bits` bits over [-peak, peak]."""
    peak = max(float(np.max(np.abs(x))), 1e-8)
    step = 2.0 * peak / (2 ** bits)
    return np.round(x / step) * step


def dropouts(x, fraction, rng, sample_rate=SAMPLE_RATE):
    """Zeroes about `fraction` of the samples in 20-120 ms gaps."""
    y = x.copy()
    target = int(fraction * x.size)
    removed = 0
    while removed < target:
        gap = int(rng.uniform(0.02, 0.12) * sample_rate)
        start = int(rng.integers(0, max(x.size - gap, 1)))
        y[start:start + gap] = 0.0
        removed += gap
    return y


def _stft(x, n_fft=512, hop=128):
    window = np.hanning(n_fft + 1)[:-1]
    pad = np.pad(x, (n_fft // 2, n_fft // 2 + n_fft))
    frames = 1 + (x.size + n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(pad[idx] * window, axis=1), window


def _istft(spec, window, length, n_fft=512, hop=128):
    frames = np.fft.irfft(spec, n_fft, axis=1) * window
    out = overlap_add(frames, hop)
    norm = overlap_add(np.broadcast_to(window ** 2, frames.shape), hop)
    out /= np.maximum(norm, 1e-8)
    return out[n_fft // 2:n_fft // 2 + length]


def band_removal(x, keep_fraction):
    """Codec-like spectral holes: in every STFT frame only the strongest
    `keep_fraction` of the bins are kept, the rest are zeroed."""
    spec, window = _stft(x)
    mag = np.abs(spec)
    keep = max(1, int(round(keep_fraction * mag.shape[1])))
    threshold = -np.partition(-mag, keep - 1, axis=1)[:, keep - 1:keep]
    return _istft(np.where(mag >= threshold, spec, 0.0), window, x.size)


def degrade(clean, kind, severity, rng, others=None, sample_rate=SAMPLE_RATE):
    """One degradation of `clean` (1-D) at `severity` in [0, 1].

    Args:
        clean: 1-D float array (a crop, 16 kHz).
        kind: one of `KINDS`.
        severity: float in [0, 1]; 0 is the mildest setting of the kind.
        rng: `numpy.random.Generator` (all random draws come from it).
        others: list of other clean crops (for `babble`).
        sample_rate: int. Defaults to 16000.

    Returns:
        float32 array of `clean`'s length.
    """
    check_degradation(kind, severity)
    x = np.asarray(clean, np.float64)
    n = x.size
    if n == 0 or _rms(x) < 1e-7:
        return x.astype(np.float32)
    if kind in ("white_noise", "pink_noise", "brown_noise"):
        noise = coloured_noise(n, kind.split("_")[0], rng)
        y = add_at_snr(x, noise, noise_snr_db(severity))
    elif kind == "babble":
        y = add_at_snr(x, babble(n, others, rng), noise_snr_db(severity))
    elif kind in ("reverb", "reverb_noise"):
        rt60 = reverb_rt60(severity if kind == "reverb" else rng.uniform(0.2, 1.0) * severity)
        drr = reverb_drr_db(severity)
        y = convolve_same(x, synthetic_rir(rt60, rng, sample_rate, drr))
        if kind == "reverb_noise":
            colour = "pink" if rng.random() < 0.5 else "white"
            y = add_at_snr(y, coloured_noise(n, colour, rng), reverb_noise_snr_db(severity))
    elif kind == "clip":
        y = hard_clip(x, clipped_fraction(severity))
    elif kind == "lowpass":
        y = low_pass(x, lowpass_cutoff_hz(severity), sample_rate)
    elif kind == "quantize":
        y = quantize(x, quantize_bits(severity))
    elif kind == "dropout":
        y = dropouts(x, dropout_fraction(severity), rng, sample_rate)
    else:  # band_removal
        y = band_removal(x, kept_bin_fraction(severity))
    peak = float(np.max(np.abs(y)))
    if peak > 1.0:
        y = y / peak
    return y.astype(np.float32)


def random_degradation(clean, rng, others=None, kinds=KINDS, severity_range=(0.0, 1.0),
                       sample_rate=SAMPLE_RATE):
    """`clean` degraded by a kind drawn from `kinds` at a severity drawn
    uniformly from `severity_range`.

    Returns:
        (degraded float32 array, kind, severity).
    """
    kind = kinds[int(rng.integers(len(kinds)))]
    severity = float(rng.uniform(*severity_range))
    return degrade(clean, kind, severity, rng, others, sample_rate), kind, severity
