"""A cheap, open intrusive distance between a clean crop and its degraded
copy, used to set label-free ranking margins.

Both signals are set to the same RMS (as PESQ aligns levels), turned into
mel-band power (40 bands up to 8 kHz, 32 ms frames, 16 ms hop), compressed
to a loudness-like scale (power ** 0.3) and compared frame by frame over the
frames where the clean crop is active. Added components (noise, distortion
products) count fully and removed ones (band limitation, dropouts) by half,
a crude form of the asymmetry of perceptual measures: a 4 kHz low-pass only
removes weak high bands and gets a small distance, 0 dB noise a large one.

`loudness_distances` computes the same distance for a whole batch of
rows at once (rows with their own valid lengths; float32 FFTs), which is
what the ranking pipeline uses; `loudness_distance` is the one-pair form.

Example:
>>> d = loudness_distance(clean, degraded)      # 0 for identical signals
>>> m = ranking_margin(d)                        # in [0, max_margin]
>>> d = loudness_distances(clean_rows, degraded_rows, lengths)   # [batch]
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vqkeras.data.batch_dsp import matmul

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
_BANK32 = _BANK.astype(np.float32)
_BANK32_TWICE = np.repeat(_BANK32, 2, axis=0)
_WINDOW32 = _WINDOW.astype(np.float32)


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


def _frame_band_power(frames):
    """Mel-band power [frames, bands] (float32) of windowed frames
    [frames, N_FFT] (float32)."""
    from scipy import fft

    spec = fft.rfft(frames, axis=-1)
    # |X|^2 @ bank as (re^2, im^2 interleaved) @ (bank rows twice): no sqrt
    parts = spec.view(np.float32)
    np.square(parts, out=parts)
    return matmul(parts, _BANK32_TWICE)


def _frames(rows):
    """Unwindowed frames view [batch, frames, N_FFT] of [batch, samples]."""
    if rows.shape[1] < N_FFT:
        rows = np.pad(rows, ((0, 0), (0, N_FFT - rows.shape[1])))
    return sliding_window_view(rows, N_FFT, axis=1)[:, ::HOP]


# Frames per pass through window, FFT, square and mel matrix: about 1.5 MB of
# frames, so that each pass finds the previous one's output in cache (30 %
# faster than whole-batch passes on the 2-core development machines).
_CHUNK_FRAMES = 384


def band_powers(rows):
    """Mel-band power [batch, frames, bands] (float32) of the rows of a
    [batch, samples] array: the frames `band_power` gives for each row
    (rows shorter than one frame are zero-padded to it)."""
    frames = _frames(np.asarray(rows, np.float32))
    count, steps, _ = frames.shape
    out = np.empty((count, steps, NUM_BANDS), np.float32)
    per = max(1, _CHUNK_FRAMES // steps)
    for r in range(0, count, per):
        block = frames[r:r + per] * _WINDOW32
        out[r:r + per] = _frame_band_power(block.reshape(-1, N_FFT)).reshape(block.shape[0], steps, -1)
    return out


def frame_counts(lengths):
    """Frames `band_power` gives for signals of these lengths."""
    return 1 + (np.maximum(np.asarray(lengths, np.int64), N_FFT) - N_FFT) // HOP


def loudness_distances(clean, degraded, lengths, clean_power=None, clean_index=None):
    """`loudness_distance` of every (clean, degraded) row pair, computed over
    the batch (the degraded rows' spectra only where the clean rows are
    active).

    Args:
        clean: float array [clean rows, samples]; zero beyond each length.
        degraded: float array [batch, samples]; zero beyond each length.
        lengths: int [batch]. Valid samples per degraded row (its clean
            row's length).
        clean_power: optional `band_powers(clean)`.
        clean_index: optional int [batch]: the clean row of each degraded
            row (several copies can share one clean row, whose spectra and
            loudness are then computed once). Defaults to row i for row i.

    Returns:
        float64 array [batch] (float32 arithmetic: agrees with
        `loudness_distance` to about 1e-4 relative).
    """
    clean = np.asarray(clean, np.float32)
    degraded = np.asarray(degraded, np.float32)
    lengths = np.asarray(lengths, np.int64)
    size = degraded.shape[0]
    index = np.arange(size) if clean_index is None else np.asarray(clean_index, np.int64)
    clean_len = np.zeros(clean.shape[0], np.int64)
    clean_len[index] = lengths
    # clean side, once per clean row
    energy_c = np.einsum("ij,ij->i", clean, clean).astype(np.float64) / np.maximum(clean_len, 1)
    silent = np.sqrt(energy_c) < 1e-7
    pc = band_powers(clean) if clean_power is None else clean_power
    # band power of x / rms(x) is band power of x over its energy
    scale_c = (1.0 / np.where(silent, 1.0, energy_c)).astype(np.float32)
    valid = np.arange(pc.shape[1])[None, :] < frame_counts(clean_len)[:, None]
    frame_energy = np.where(valid, pc.sum(axis=2), 0.0) * scale_c[:, None]
    top = frame_energy.max(axis=1)
    active = valid & (frame_energy > top[:, None] * 10.0 ** (-ACTIVE_DB / 10.0)) & ~silent[:, None]
    crow, cstep = np.nonzero(active)
    if crow.size == 0:
        return np.zeros(size)
    floor_c = (1e-6 * top).astype(np.float32)
    lc_all = (pc[crow, cstep] * scale_c[crow, None] + floor_c[crow, None]) ** np.float32(COMPRESSION)
    # degraded side: each row's clean row's active frames
    counts = np.bincount(crow, minlength=clean.shape[0])
    starts = np.cumsum(counts) - counts
    pick = np.concatenate([np.arange(starts[c], starts[c] + counts[c]) for c in index])
    row = np.repeat(np.arange(size), counts[index])
    step = cstep[pick]
    lc = lc_all[pick]
    energy_d = np.einsum("ij,ij->i", degraded, degraded).astype(np.float64) / np.maximum(lengths, 1)
    scale_d = (1.0 / np.maximum(energy_d, 1e-14)).astype(np.float32)
    frames = _frames(degraded)
    pd = np.empty((row.size, NUM_BANDS), np.float32)
    for k in range(0, row.size, _CHUNK_FRAMES):
        block = frames[row[k:k + _CHUNK_FRAMES], step[k:k + _CHUNK_FRAMES]]
        block *= _WINDOW32
        pd[k:k + _CHUNK_FRAMES] = _frame_band_power(block)
    pd *= scale_d[row, None]
    pd += floor_c[index[row], None]
    ld = pd ** np.float32(COMPRESSION)
    diff = ld - lc
    cost = np.maximum(diff, 0.0) - REMOVED_WEIGHT * np.minimum(diff, 0.0)
    per_frame = cost.mean(axis=1) / np.maximum(lc.mean(axis=1), 1e-12)
    total = np.bincount(row, weights=per_frame, minlength=size)
    frames_per_row = np.bincount(row, minlength=size)
    return np.where(frames_per_row > 0, total / np.maximum(frames_per_row, 1), 0.0)


def ranking_margins(distances, max_margin=0.1, scale=0.5):
    """`ranking_margin` of an array of distances (float32)."""
    distances = np.asarray(distances, np.float64)
    return (max_margin * (1.0 - np.exp(-distances / scale))).astype(np.float32)


def ranking_margin(distance, max_margin=0.1, scale=0.5):
    """Margin for the ranking loss from a `loudness_distance`: grows
    linearly then saturates, `max_margin * (1 - exp(-distance / scale))`."""
    return float(max_margin * (1.0 - np.exp(-float(distance) / scale)))
