"""Batch transform that perturbs clean crops and keeps them clean: speed
perturbation and vocal-tract-length warping (more speakers, no damage).

Used alone as a recipe's `data.augment`, and by `RankingPairs` for the
clean crops it then degrades.
"""
import math

import numpy as np

from vqkeras.data.batch_dsp import resample_rows
from vqkeras.data.vtlp import vtlp

_SPEED_STEPS = 100   # speed factors are multiples of 1 / _SPEED_STEPS


def _speed_ratio(factor):
    """(up, down), reduced, for a speed factor (rounded to 0.01)."""
    down = int(round(factor * _SPEED_STEPS))
    g = math.gcd(_SPEED_STEPS, down)
    return _SPEED_STEPS // g, down // g


def speed_rows(waveforms, lengths, factors, out_samples):
    """`speed_perturb` of every row: rows with the same factor are
    resampled together (`batch_dsp.resample_rows`).

    Args:
        waveforms: float array [batch, samples].
        lengths: int [batch]. Valid samples per row.
        factors: float [batch]. Speed factors.
        out_samples: int. Output width.

    Returns:
        (float32 [batch, out_samples], int64 new lengths [batch]).
    """
    waveforms = np.asarray(waveforms, np.float32)
    lengths = np.minimum(np.asarray(lengths, np.int64), waveforms.shape[1])
    out = np.zeros((waveforms.shape[0], out_samples), np.float32)
    out_len = np.zeros(waveforms.shape[0], np.int64)
    groups = {}
    for i, factor in enumerate(factors):
        groups.setdefault(_speed_ratio(float(factor)), []).append(i)
    for (up, down), members in groups.items():
        width = int(lengths[members].max())
        rows = np.zeros((len(members), width), np.float32)
        for k, i in enumerate(members):
            rows[k, :lengths[i]] = waveforms[i, :lengths[i]]
        y = resample_rows(rows, up, down) if up != down else rows
        for k, i in enumerate(members):
            n = min(-(-int(lengths[i]) * up // down), out_samples)
            out[i, :n] = y[k, :n]
            out_len[i] = n
    peak = np.maximum(out.max(axis=1), -out.min(axis=1))
    loud = peak > 1.0
    if np.any(loud):
        out[loud] /= peak[loud, None]
    return out, out_len


def speed_perturb(waveform, length, factor, out_samples):
    """Plays `waveform[:length]` `factor` times faster (band-limited
    resampling to 1/factor of its length: `resample_poly` with a Kaiser
    window), cut or zero-padded to `out_samples`. The factor is rounded to
    a multiple of 0.01.

    Returns:
        (float32 array [out_samples], new valid length).
    """
    out, n = speed_rows(np.asarray(waveform)[None, :length], [length], [factor], out_samples)
    return out[0], int(n[0])


class CleanAugment:
    """Picklable `transform(batch, rng)` for the crop dataset.

    Args:
        speed_range: (low, high) or None. Speed factor drawn uniformly per
            crop (None: off). Defaults to (0.9, 1.1).
        vtlp_range: (low, high) or None. Vocal-tract-length warp factor
            drawn uniformly per crop, after the speed change (None: off).
            Defaults to None.

    Call arguments:
        batch: dict with `waveform` float32 [B, S] and `length` int [B].
        rng: `numpy.random.Generator`.

    Returns:
        A new dict with the perturbed `waveform` [B, S] (zero beyond each
        length) and `length` [B] int32; other keys are kept.
    """

    def __init__(self, speed_range=(0.9, 1.1), vtlp_range=None):
        self.speed_range = tuple(float(a) for a in speed_range) if speed_range else None
        self.vtlp_range = tuple(float(a) for a in vtlp_range) if vtlp_range else None
        for name, rng in (("speed_range", self.speed_range), ("vtlp_range", self.vtlp_range)):
            if rng and not (len(rng) == 2 and 0.0 < rng[0] <= rng[1]):
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {rng}")

    def __call__(self, batch, rng):
        waves = np.asarray(batch["waveform"], np.float32)
        lengths = np.minimum(np.asarray(batch["length"]).astype(np.int64), waves.shape[1])
        size, samples = waves.shape
        ranges = [r for r in (self.speed_range, self.vtlp_range) if r]
        # crop after crop: its speed factor, then its warp factor
        draws = rng.random((size, len(ranges)))
        if self.speed_range:
            lo, hi = self.speed_range
            out, out_len = speed_rows(waves, lengths, lo + (hi - lo) * draws[:, 0], samples)
        else:
            out = waves * (np.arange(samples) < lengths[:, None])
            out_len = lengths
        if self.vtlp_range:
            lo, hi = self.vtlp_range
            for i, u in enumerate(draws[:, -1]):
                m = int(out_len[i])
                out[i, :m] = vtlp(out[i, :m], lo + (hi - lo) * float(u))
        result = dict(batch)
        result["waveform"] = out
        result["length"] = out_len.astype(np.int32)
        return result
