"""`degradations.degrade` over a batch: every row damaged by its own
`degradation_draws.Draw`, the signal processing run for all rows of a kind
at once (float32, FFTs over the batch).

For a crop whose length is an FFT-friendly size (a 3 s crop: 48000
samples) the result agrees with `degrade` to float32 precision; elsewhere
the coloured-noise and low-pass kinds use an FFT of the next fast size
instead of the crop's own length (the same spectra, not the same samples).
"""
import functools

import numpy as np

from vqkeras.data.batch_dsp import overlap_add
from vqkeras.data.degradation_kinds import (SAMPLE_RATE, clipped_fraction, kept_bin_fraction,
                                            lowpass_cutoff_hz, quantize_bits)


def _fast_length(n):
    from scipy import fft
    return fft.next_fast_len(int(n), real=True)


def _rows_rms(rows, lengths):
    """RMS of each row over its length (float64) [rows]."""
    energy = np.einsum("ij,ij->i", rows, rows).astype(np.float64)
    return np.sqrt(energy / np.maximum(lengths, 1) + 1e-20)


def _shaped_noise(draws, width):
    """Unit-RMS coloured noise (float32 [rows, width]) from each draw's
    white `noise` and `colour`: as `coloured_noise`, with the spectrum
    shaped over the next fast FFT size (the white noise repeated to fill
    it) rather than over the crop's own length."""
    from scipy import fft

    out = np.zeros((len(draws), width), np.float32)
    groups = {}
    for r, d in enumerate(draws):
        white = d.values["noise"]
        if d.values["colour"] == "white":
            np.multiply(white, 1.0 / _rms(white), out=out[r, :d.length], casting="unsafe")
        else:
            m = _fast_length(d.length) if d.length > 1 else 1
            groups.setdefault((d.values["colour"], m), []).append(r)
    for (colour, m), members in groups.items():
        exponent = {"pink": 1.0, "brown": 2.0}[colour]
        block = np.empty((len(members), m), np.float32)
        for k, r in enumerate(members):
            white = draws[r].values["noise"]
            block[k] = white if white.size == m else np.resize(white, m)
        freqs = np.fft.rfftfreq(m)
        freqs[0] = freqs[1] if m > 1 else 1.0
        shaping = (freqs ** (-exponent / 2.0)).astype(np.float32)
        spectrum = fft.rfft(block, axis=1)
        spectrum *= shaping
        shaped = fft.irfft(spectrum, m, axis=1)
        for row, r in zip(shaped, members):
            y = row[:draws[r].length]
            y -= y.mean()
            np.multiply(y, 1.0 / _rms32(y), out=out[r, :y.size])
    return out


def _clip_row(x, fraction):
    """`hard_clip` of a float32 row: the level is the same (linear) quantile
    of |x|, read from a sorted copy (vectorised) rather than a partition."""
    magnitude = np.sort(np.abs(x))
    position = (1.0 - fraction) * (magnitude.size - 1)
    lo = int(np.floor(position))
    hi = min(lo + 1, magnitude.size - 1)
    level = magnitude[lo] + (position - lo) * (float(magnitude[hi]) - float(magnitude[lo]))
    return np.clip(x, -level, level)


def _rms(x):
    """RMS of a vector in float64 (`degradations`' own)."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _quantize_row(x, bits):
    """`degradations.quantize` of one row."""
    peak = max(float(np.max(np.abs(x))), 1e-8)
    step = 2.0 * peak / (2 ** bits)
    return np.round(x / step) * step


def _rms32(x):
    """RMS of a float32 vector (float32 products, float64 result)."""
    return float(np.sqrt(np.einsum("i,i->", x, x) / max(x.size, 1) + 1e-20))


def _add_noise_rows(speech, noise, lengths, snr_db):
    """`add_at_snr` for rows (noise rows unit RMS over each length)."""
    gain = _rows_rms(speech, lengths) / (_rows_rms(noise, lengths) * 10.0 ** (np.asarray(snr_db) / 20.0))
    return speech + gain.astype(np.float32)[:, None] * noise


def _babble_rows(draws, width):
    """`babble` mixes from each draw's talkers: a source tiled to the
    crop's length (`np.resize`), rotated by its shift, at unit RMS."""
    out = np.zeros((len(draws), width), np.float32)
    for r, d in enumerate(draws):
        n = d.length
        mix = out[r, :n]
        for src, shift in d.values["talkers"]:
            src = np.asarray(src, np.float32)
            src = src[:n] if src.size >= n else np.resize(src, n)
            gain = np.float32(1.0 / _rms32(src))
            shift %= n
            mix[shift:] += gain * src[:n - shift]        # np.roll(src, shift)
            mix[:shift] += gain * src[n - shift:]
        mix *= np.float32(1.0 / _rms32(mix))
    return out


def _rir(values, sample_rate):
    """`synthetic_rir` from its draws."""
    rt60, tail = values["rt60"], values["tail"]
    t = np.arange(tail.size) / sample_rate
    tail = tail * np.exp(-6.9078 * t / rt60)
    tail[:values["onset"]] = 0.0
    tail *= 1.0 / (np.sqrt(np.sum(tail ** 2)) * 10.0 ** (values["drr"] / 20.0))
    tail[0] = 1.0
    return tail


def _reverb_rows(rows, lengths, draws, sample_rate):
    """`convolve_same` with each draw's room response, over the batch."""
    from scipy import fft

    rirs = [_rir(d.values, sample_rate) for d in draws]
    nfft = _fast_length(rows.shape[1] + max(h.size for h in rirs) - 1)
    spectra = fft.rfft(rows, nfft, axis=1)
    responses = np.zeros((len(rirs), nfft), np.float32)
    for r, h in enumerate(rirs):
        responses[r, :h.size] = h
    wet = fft.irfft(spectra * fft.rfft(responses, axis=1), nfft, axis=1)[:, :rows.shape[1]]
    wet *= (np.arange(wet.shape[1]) < lengths[:, None])
    return wet * (_rows_rms(rows, lengths) / _rows_rms(wet, lengths)).astype(np.float32)[:, None]


def _lowpass_rows(rows, lengths, cutoffs, sample_rate, transition_hz=200.0):
    """`low_pass` per row: over the row's length where that is a fast FFT
    size, else over the next fast size (zero-padded)."""
    from scipy import fft

    out = np.zeros_like(rows)
    sizes = [_fast_length(n) for n in lengths]
    for m in set(sizes):
        members = [r for r, size in enumerate(sizes) if size == m]
        block = np.zeros((len(members), m), np.float32)
        for k, r in enumerate(members):
            block[k, :lengths[r]] = rows[r, :lengths[r]]
        freqs = np.fft.rfftfreq(m, 1.0 / sample_rate)
        cut = np.asarray([cutoffs[r] for r in members])[:, None]
        pos = np.clip((freqs - (cut - transition_hz / 2)) / transition_hz, 0.0, 1.0)
        gain = (0.5 * (1.0 + np.cos(np.pi * pos))).astype(np.float32)
        filtered = fft.irfft(fft.rfft(block, axis=1) * gain, m, axis=1)
        for k, r in enumerate(members):
            out[r, :lengths[r]] = filtered[k, :lengths[r]]
    return out


@functools.lru_cache(maxsize=8)
def _overlap_gain(count, n_fft, hop):
    """1 / (overlap-added squared Hann window) for `count` frames."""
    window = np.hanning(n_fft + 1)[:-1]
    norm = overlap_add(np.broadcast_to(window ** 2, (count, n_fft)), hop)
    gain = (1.0 / np.maximum(norm, 1e-8)).astype(np.float32)
    gain.setflags(write=False)
    return gain


def _band_removal_rows(rows, lengths, keep_fractions, n_fft=512, hop=128):
    """`band_removal` over the batch (float32 STFT, a row at a time so that
    its frames stay in cache from one pass to the next)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft

    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    width = rows.shape[1]
    count = 1 + (width + n_fft) // hop
    gain = _overlap_gain(count, n_fft, hop)[n_fft // 2:n_fft // 2 + width]
    out = np.zeros((rows.shape[0], width), np.float32)
    for r in range(rows.shape[0]):
        n = int(lengths[r])
        padded = np.pad(rows[r, :n], (n_fft // 2, width - n + n_fft // 2 + n_fft))
        frames = sliding_window_view(padded, n_fft)[::hop][:count] * window
        spec = fft.rfft(frames, axis=-1)
        mag = np.abs(spec)
        bins = mag.shape[-1]
        kth = bins - max(1, int(np.rint(keep_fractions[r] * bins)))   # keep-th largest
        # (numpy's sort is vectorised for float32, np.partition is not: 5x faster)
        spec *= mag >= np.sort(mag, axis=-1)[:, kth:kth + 1]
        frames = fft.irfft(spec, n_fft, axis=-1)
        frames *= window
        y = overlap_add(frames, hop)[n_fft // 2:n_fft // 2 + n]
        np.multiply(y, gain[:n], out=out[r, :n])
    return out


def render_degradations(rows, lengths, draws, sample_rate=SAMPLE_RATE, out=None):
    """Applies one `Draw` to each row: `degrade` over a batch.

    Args:
        rows: float array [batch, samples], zero beyond each length.
        lengths: int [batch].
        draws: `draw_degradation` results, one per row (its `length` the
            row's length).
        sample_rate: int. Defaults to 16000.
        out: optional float32 array [batch, samples] to write into.

    Returns:
        float32 [batch, samples] (`out` if given), zero beyond each length,
        peak at most 1 (rows scaled down where the damage pushed them past
        it).
    """
    x = np.asarray(rows, np.float32)
    lengths = np.asarray(lengths, np.int64)
    if len(draws) != x.shape[0]:
        raise ValueError(f"{len(draws)} draws for {x.shape[0]} rows")
    if out is None:
        y = x.copy()
    else:
        y = out
        y[...] = x
    by_kind = {}
    for r, d in enumerate(draws):
        if d.values is not None:
            by_kind.setdefault(d.kind, []).append(r)
    width = x.shape[1]

    def rows_of(*kinds):
        return [r for k in kinds for r in by_kind.get(k, [])]

    noisy = rows_of("white_noise", "pink_noise", "brown_noise")
    babblers = rows_of("babble")
    fallback = [r for r in babblers if "talkers" not in draws[r].values]
    talking = [r for r in babblers if "talkers" in draws[r].values]
    coloured = noisy + fallback
    if coloured:
        noise = _shaped_noise([draws[r] for r in coloured], width)
        y[coloured] = _add_noise_rows(x[coloured], noise, lengths[coloured],
                                      [draws[r].values["snr"] for r in coloured])
    if talking:
        noise = _babble_rows([draws[r] for r in talking], width)
        y[talking] = _add_noise_rows(x[talking], noise, lengths[talking],
                                     [draws[r].values["snr"] for r in talking])
    rooms = rows_of("reverb", "reverb_noise")
    if rooms:
        y[rooms] = _reverb_rows(x[rooms], lengths[rooms], [draws[r] for r in rooms], sample_rate)
        noisy_rooms = rows_of("reverb_noise")
        if noisy_rooms:
            noise = _shaped_noise([draws[r] for r in noisy_rooms], width)
            y[noisy_rooms] = _add_noise_rows(y[noisy_rooms], noise, lengths[noisy_rooms],
                                             [draws[r].values["snr"] for r in noisy_rooms])
    for r in rows_of("clip"):
        n = lengths[r]
        y[r, :n] = _clip_row(x[r, :n], clipped_fraction(draws[r].severity))
    lows = rows_of("lowpass")
    if lows:
        y[lows] = _lowpass_rows(x[lows], lengths[lows],
                                [lowpass_cutoff_hz(draws[r].severity) for r in lows],
                                sample_rate)
    for r in rows_of("quantize"):
        n = lengths[r]
        y[r, :n] = _quantize_row(x[r, :n], quantize_bits(draws[r].severity))
    for r in rows_of("dropout"):
        for start, gap in draws[r].values["gaps"]:
            y[r, start:min(start + gap, lengths[r])] = 0.0
    holes = rows_of("band_removal")
    if holes:
        y[holes] = _band_removal_rows(x[holes], lengths[holes],
                                      [kept_bin_fraction(draws[r].severity) for r in holes])
    peak = np.maximum(y.max(axis=1), -y.min(axis=1))
    for r in np.nonzero(peak > 1.0)[0]:
        y[r] /= peak[r]
    return y
