"""Batch transform that perturbs clean crops and keeps them clean: speed
perturbation and vocal-tract-length warping (more speakers, no damage).

Used alone as a recipe's `data.augment`, and by `RankingPairs` for the
clean crops it then degrades.
"""
import math

import numpy as np

from vqkeras.data.vtlp import vtlp


def speed_perturb(waveform, length, factor, out_samples):
    """Plays `waveform[:length]` `factor` times faster (band-limited
    resampling to 1/factor of its length), cut or zero-padded to
    `out_samples`.

    Returns:
        (float32 array [out_samples], new valid length).
    """
    from scipy.signal import resample_poly

    up = 100
    down = int(round(factor * up))
    g = math.gcd(up, down)
    x = np.asarray(waveform[:length], np.float64)
    y = resample_poly(x, up // g, down // g, window=("kaiser", 5.0)) if down != up else x
    n = min(y.size, out_samples)
    out = np.zeros(out_samples, np.float32)
    out[:n] = y[:n]
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 1.0:
        out /= peak
    return out, n


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
        lengths = np.asarray(batch["length"]).astype(np.int64)
        size, samples = waves.shape
        out = np.zeros_like(waves)
        out_len = np.zeros(size, np.int64)
        for i in range(size):
            n = int(min(lengths[i], samples))
            if self.speed_range:
                out[i], out_len[i] = speed_perturb(waves[i], n, float(rng.uniform(*self.speed_range)),
                                                   samples)
            else:
                out[i, :n], out_len[i] = waves[i, :n], n
            if self.vtlp_range:
                m = int(out_len[i])
                out[i, :m] = vtlp(out[i, :m], float(rng.uniform(*self.vtlp_range)))
        result = dict(batch)
        result["waveform"] = out
        result["length"] = out_len.astype(np.int32)
        return result
