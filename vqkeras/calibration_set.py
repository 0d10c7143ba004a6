"""Making a model's calibration from clean speech alone (no labels).

The clean files are scored as they are: their score quantiles are the
reference of `clean_percentile`. A seeded subset of them, each cut to its
first `max_seconds`, is mixed with synthetic noise (white, pink, brown and
babble from other clean files: `vqkeras.data.holdout_set.damaged_pairs`)
at every SNR of `SNR_GRID`; the median score per SNR, made non-decreasing,
is the curve of `equivalent_snr_db`. See `vqkeras.calibration`.
"""
import numpy as np

from vqkeras.calibration import build, clean_percentile

SNR_GRID = (-5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0)
# Fewest clean files `vqkeras calibrate` and the end of `vqkeras train` calibrate from.
MIN_FILES = 5


def _scores(model, waves, batch_size=16):
    from vqkeras.api import score

    return np.asarray(score(waves, model=model, batch_size=batch_size), np.float64)


def calibrate_waveforms(model, clean_waves, snr_grid=SNR_GRID, noisy_files=50, copies=2,
                        max_seconds=8.0, seed=0, made_from="", batch_size=16):
    """A calibration of `model` from clean 16 kHz waveforms.

    Args:
        model: a loaded `VQScoreModel`.
        clean_waves: list of 1-D float32 arrays of clean speech.
        snr_grid: SNRs (dB) of the noise curve; its ends bound
            `equivalent_snr_db`.
        noisy_files: how many clean waveforms (a seeded subset) get noisy
            copies.
        copies: noisy copies per waveform and SNR (each a noise kind drawn
            from white, pink, brown and babble).
        max_seconds: noisy copies are made from the first this many seconds.
        seed: seeds the subset, the noise kinds and the noise itself.
        made_from: one line for the calibration's `made_from`.
        batch_size: items per padded batch when scoring.

    Returns:
        The calibration dict (`vqkeras.calibration.build`).
    """
    from vqkeras.data.holdout_set import damaged_pairs

    clean_scores = _scores(model, clean_waves, batch_size)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(clean_waves))[:noisy_files]
    subset = [clean_waves[i] for i in sorted(order)]
    noisy, snrs = [], []
    for k, snr in enumerate(snr_grid):
        for wave, value in damaged_pairs(subset, snr_range=(snr, snr), seed=seed * 1000 + k,
                                         copies=copies, max_seconds=max_seconds):
            noisy.append(wave)
            snrs.append(value)
    noisy_scores = _scores(model, noisy, batch_size)
    return build(clean_scores, snrs, noisy_scores, made_from=made_from)


def held_out_check(model, calibration, waves, batch_size=16):
    """Median `clean_percentile` of clean waveforms the calibration did not
    see (near 50 when they are like its reference speech), and their count."""
    scores = _scores(model, waves, batch_size)
    scores = scores[np.isfinite(scores)]
    if scores.size == 0:
        return float("nan"), 0
    return float(np.median(clean_percentile(calibration, scores))), int(scores.size)
