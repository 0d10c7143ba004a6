"""A cheap, open intrusive distance between a clean crop and its degraded
copy, used to set label-free ranking margins.

Both signals are set to the same RMS (as PESQ aligns levels), turned into
mel-band power (40 bands up to 8 kHz, 32 ms frames, 16 ms hop), compressed
to a loudness-like scale (power ** 0.3) and compared frame by frame over the
frames where the clean crop is active. Added components (noise, distortion
products) count fully and removed ones (band limitation, dropouts) by half,
a crude form of the asymmetry of perceptual measures: a 4 kHz low-pass only
removes weak high bands and gets a small distance, 0 dB noise a large one.

Example:
>>> d = loudness_distance(clean, degraded)      # 0 for identical signals
>>> m = ranking_margin(d)                        # in [0, max_margin]
"""
import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
NUM_BANDS = 40
COMPRESSION = 0.3
REMOVED_WEIGHT = 0.5
ACTIVE_DB = 40.0


def _mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_inverse(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(num_bands=NUM_BANDS, n_fft=N_FFT, sample_rate=SAMPLE_RATE):
    """Triangular mel filters [bins, bands]."""
    edges = _mel_inverse(np.linspace(_mel(50.0), _mel(sample_rate / 2), num_bands + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    bank = np.zeros((freqs.size, num_bands))
    for b in range(num_bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        bank[:, b] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return bank


_BANK = mel_filterbank()
_WINDOW = np.hanning(N_FFT + 1)[:-1]


def band_power(x):
    """Mel-band power [frames, bands] of a 1-D signal."""
    x = np.asarray(x, np.float64)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    frames = 1 + (x.size - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _WINDOW, axis=1)) ** 2
    return spec @ _BANK


def loudness_distance(clean, degraded, length=None):
    """Perceptual-style distance (>= 0; 0 for identical signals) between a
    clean signal and a degraded copy of the same length.

    Args:
        clean, degraded: 1-D float arrays.
        length: int or None. Only the first `length` samples count.

    Returns:
        float: mean over active clean frames of the per-band loudness
        difference (added + 0.5 * removed), relative to the clean frame's
        mean loudness.
    """
    clean = np.asarray(clean, np.float64)
    degraded = np.asarray(degraded, np.float64)
    if length is not None:
        clean, degraded = clean[:length], degraded[:length]
    rc = np.sqrt(np.mean(clean ** 2))
    rd = np.sqrt(np.mean(degraded ** 2))
    if rc < 1e-7:
        return 0.0
    clean = clean / rc
    degraded = degraded / max(rd, 1e-7)
    pc, pd = band_power(clean), band_power(degraded)
    frame_energy = pc.sum(axis=1)
    active = frame_energy > frame_energy.max() * 10.0 ** (-ACTIVE_DB / 10.0)
    floor = 1e-6 * frame_energy.max()
    lc = (pc[active] + floor) ** COMPRESSION
    ld = (pd[active] + floor) ** COMPRESSION
    diff = ld - lc
    per_frame = (np.mean(np.maximum(diff, 0.0) + REMOVED_WEIGHT * np.maximum(-diff, 0.0), axis=1)
                 / np.maximum(np.mean(lc, axis=1), 1e-12))
    return float(np.mean(per_frame))


def ranking_margin(distance, max_margin=0.1, scale=0.5):
    """Margin for the ranking loss from a `loudness_distance`: grows
    linearly then saturates, `max_margin * (1 - exp(-distance / scale))`."""
    return float(max_margin * (1.0 - np.exp(-float(distance) / scale)))
