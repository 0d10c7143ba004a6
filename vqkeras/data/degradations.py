"""Synthetic degradations of clean speech for label-free ranking training.

Every distortion is made from the crop itself or synthesised here (coloured
noise, babble from other crops, synthetic room responses); no recorded noise
or RIR is used, so the recorded ones in `../shared/data` stay for validation.
Each kind takes a `severity` in [0, 1] (0 = mildest setting, 1 = harshest)
and a `numpy.random.Generator`, keeps the input's length, and is
deterministic for a given generator state.

`degrade` damages one crop. The ranking pipeline damages a whole batch
with `draw_degradation` (one crop's random draws, the same draws in the
same order as `degrade` makes them) and `render_degradations` (the signal
processing for all rows at once, float32, FFTs over the batch). For a crop
whose length is an FFT-friendly size (a 3 s crop: 48000 samples) the two
agree to float32 precision; elsewhere the coloured-noise and low-pass
kinds use an FFT of the next fast size instead of the crop's own length
(the same spectra, not the same samples).

Example:
>>> rng = np.random.default_rng(0)
>>> noisy = degrade(clean, "white_noise", 0.7, rng)
>>> damaged, kind, severity = random_degradation(clean, rng, others=[other_crop])
>>> plans = [draw_degradation(k, s, n, rng) for k, s, n in zip(kinds, severities, lengths)]
>>> damaged_rows = render_degradations(rows, lengths, plans)
"""
import functools

import numpy as np

SAMPLE_RATE = 16000

# kind -> what `severity` 0..1 controls (mildest .. harshest)
KINDS = (
    "white_noise",    # SNR 30 .. -5 dB
    "pink_noise",     # SNR 30 .. -5 dB
    "brown_noise",    # SNR 30 .. -5 dB
    "babble",         # 3-6 other crops summed, SNR 30 .. -5 dB
    "reverb",         # synthetic exponential tail, RT60 0.15 .. 1.2 s
    "reverb_noise",   # reverb as above, then pink/white noise at 30 .. 0 dB
    "clip",           # 0.5 % .. 40 % of samples clipped
    "lowpass",        # cut-off 7 .. 1 kHz
    "quantize",       # 12 .. 3 bits over the crop's peak range
    "dropout",        # 2 % .. 30 % of the time zeroed in 20-120 ms gaps
    "band_removal",   # codec-like: per frame keep only the strongest bins, 80 % .. 8 %
)
SNR_RANGE_DB = (30.0, -5.0)


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _lerp(range_, severity):
    lo, hi = range_
    return lo + (hi - lo) * float(severity)


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


def _overlap_add(frames, hop):
    """Overlap-add of frames [..., count, n_fft] at `hop` (n_fft a multiple
    of hop) -> [..., hop * (count - 1) + n_fft]."""
    *lead, count, n_fft = frames.shape
    parts = n_fft // hop
    out = np.zeros((*lead, count + parts - 1, hop), frames.dtype)
    for q in range(parts):
        out[..., q:q + count, :] += frames[..., q * hop:(q + 1) * hop]
    return out.reshape(*lead, -1)


def _istft(spec, window, length, n_fft=512, hop=128):
    frames = np.fft.irfft(spec, n_fft, axis=1) * window
    out = _overlap_add(frames, hop)
    norm = _overlap_add(np.broadcast_to(window ** 2, frames.shape), hop)
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
    _check(kind, severity)
    x = np.asarray(clean, np.float64)
    n = x.size
    if n == 0 or _rms(x) < 1e-7:
        return x.astype(np.float32)
    if kind in ("white_noise", "pink_noise", "brown_noise"):
        noise = coloured_noise(n, kind.split("_")[0], rng)
        y = add_at_snr(x, noise, _lerp(SNR_RANGE_DB, severity))
    elif kind == "babble":
        y = add_at_snr(x, babble(n, others, rng), _lerp(SNR_RANGE_DB, severity))
    elif kind in ("reverb", "reverb_noise"):
        rt60 = _lerp((0.15, 1.2), severity if kind == "reverb" else rng.uniform(0.2, 1.0) * severity)
        drr = _lerp((8.0, -8.0), severity)
        y = convolve_same(x, synthetic_rir(rt60, rng, sample_rate, drr))
        if kind == "reverb_noise":
            colour = "pink" if rng.random() < 0.5 else "white"
            y = add_at_snr(y, coloured_noise(n, colour, rng), _lerp((30.0, 0.0), severity))
    elif kind == "clip":
        y = hard_clip(x, _lerp((0.005, 0.4), severity ** 1.5))
    elif kind == "lowpass":
        y = low_pass(x, _lerp((7000.0, 1000.0), severity), sample_rate)
    elif kind == "quantize":
        y = quantize(x, int(round(_lerp((12.0, 3.0), severity))))
    elif kind == "dropout":
        y = dropouts(x, _lerp((0.02, 0.3), severity), rng, sample_rate)
    else:  # band_removal
        y = band_removal(x, _lerp((0.8, 0.08), severity))
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


# ------------------------------------------------------------- batched form
class Draw:
    """One crop's degradation: its kind, severity and random draws (made
    by `draw_degradation`), rendered by `render_degradations`."""

    __slots__ = ("kind", "severity", "length", "values")

    def __init__(self, kind, severity, length, values):
        self.kind, self.severity, self.length, self.values = kind, severity, length, values

    def __repr__(self):
        return f"Draw({self.kind!r}, {self.severity:.3f}, length={self.length})"


def _check(kind, severity):
    if kind not in KINDS:
        raise ValueError(f"unknown degradation {kind!r}; choose from {', '.join(KINDS)}")
    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must be in [0, 1], got {severity}")


def _draw_rir(rt60, drr, rng, sample_rate):
    # the draws of synthetic_rir, in its order
    length = int(min(rt60, 2.0) * sample_rate) + 1
    tail = rng.standard_normal(length)
    onset = int(rng.uniform(0.002, 0.005) * sample_rate)
    return {"rt60": rt60, "drr": drr, "tail": tail, "onset": onset}


def draw_degradation(kind, severity, length, rng, others=None, silent=False,
                     sample_rate=SAMPLE_RATE):
    """The random draws `degrade(clean, kind, severity, rng, others)` makes
    for a crop of `length` samples, made from `rng` in the same order.

    Args:
        kind, severity: as for `degrade`.
        length: int. The crop's valid samples.
        rng: `numpy.random.Generator`.
        others: sequence of 1-D arrays (for `babble`): the other crops.
        silent: bool. The crop is silent (RMS < 1e-7), so `degrade` draws
            nothing and returns it unchanged.
        sample_rate: int. Defaults to 16000.

    Returns:
        A `Draw` for `render_degradations`.
    """
    _check(kind, severity)
    n = int(length)
    if n == 0 or silent:
        return Draw(kind, severity, n, None)
    if kind in ("white_noise", "pink_noise", "brown_noise"):
        values = {"noise": rng.standard_normal(n), "colour": kind.split("_")[0],
                  "snr": _lerp(SNR_RANGE_DB, severity)}
    elif kind == "babble":
        pool = [o for o in (others or []) if np.asarray(o).size > 0]
        values = {"snr": _lerp(SNR_RANGE_DB, severity)}
        if not pool:
            values.update(noise=rng.standard_normal(n), colour="pink")
        else:
            talkers = int(rng.integers(3, 7))
            picks = []
            for _ in range(talkers):
                src = pool[int(rng.integers(len(pool)))]
                picks.append((src, int(rng.integers(n))))
            values["talkers"] = picks
    elif kind in ("reverb", "reverb_noise"):
        rt60 = _lerp((0.15, 1.2), severity if kind == "reverb" else rng.uniform(0.2, 1.0) * severity)
        values = _draw_rir(rt60, _lerp((8.0, -8.0), severity), rng, sample_rate)
        if kind == "reverb_noise":
            values["colour"] = "pink" if rng.random() < 0.5 else "white"
            values["noise"] = rng.standard_normal(n)
            values["snr"] = _lerp((30.0, 0.0), severity)
    elif kind == "dropout":
        target = int(_lerp((0.02, 0.3), severity) * n)
        gaps, removed = [], 0
        while removed < target:
            gap = int(rng.uniform(0.02, 0.12) * sample_rate)
            gaps.append((int(rng.integers(0, max(n - gap, 1))), gap))
            removed += gap
        values = {"gaps": gaps}
    else:  # clip, lowpass, quantize, band_removal: no random draws
        values = {}
    return Draw(kind, float(severity), n, values)


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
    norm = _overlap_add(np.broadcast_to(window ** 2, (count, n_fft)), hop)
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
        y = _overlap_add(frames, hop)[n_fft // 2:n_fft // 2 + n]
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
        y[r, :n] = _clip_row(x[r, :n], _lerp((0.005, 0.4), draws[r].severity ** 1.5))
    lows = rows_of("lowpass")
    if lows:
        y[lows] = _lowpass_rows(x[lows], lengths[lows],
                                [_lerp((7000.0, 1000.0), draws[r].severity) for r in lows],
                                sample_rate)
    for r in rows_of("quantize"):
        n = lengths[r]
        y[r, :n] = quantize(x[r, :n], int(round(_lerp((12.0, 3.0), draws[r].severity))))
    for r in rows_of("dropout"):
        for start, gap in draws[r].values["gaps"]:
            y[r, start:min(start + gap, lengths[r])] = 0.0
    holes = rows_of("band_removal")
    if holes:
        y[holes] = _band_removal_rows(x[holes], lengths[holes],
                                      [_lerp((0.8, 0.08), draws[r].severity) for r in holes])
    peak = np.maximum(y.max(axis=1), -y.min(axis=1))
    for r in np.nonzero(peak > 1.0)[0]:
        y[r] /= peak[r]
    return y
