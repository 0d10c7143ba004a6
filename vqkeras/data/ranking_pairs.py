"""Batch transform that adds degraded copies of clean crops and their
label-free ranking margins (for `VQScoreModel(ranking_weight=...)`).

The batch layout it produces is the one the ranking objective expects:
`waveform` [B * (1 + copies), S] holds the B clean crops first, then copy 1
of every crop, copy 2, ...; `length` follows the same order; `margin`
[B, copies] is each copy's margin (from `loudness_distance` between the
clean crop and the copy, mapped by `ranking_margin`). Only the clean block
updates the codebook and enters the reconstruction loss.

Before degrading, each clean crop can be speed-perturbed and given a
vocal-tract-length warp (`vqkeras.data.clean_augment.CleanAugment`): more
speakers, still clean speech.
"""
import numpy as np

from vqkeras.data.clean_augment import CleanAugment
from vqkeras.data.degradations import KINDS, degrade
from vqkeras.data.perceptual_distance import loudness_distance, ranking_margin


class RankingPairs:
    """Picklable `transform(batch, rng)` for the crop dataset.

    Args:
        copies: int. Degraded copies per clean crop. With 2 or more, copies
            of one crop are also ranked against each other by their margins.
            Defaults to 1.
        kinds: sequence of degradation kinds (see `degradations.KINDS`).
        severity_range: (low, high). Severity drawn uniformly. Defaults to
            (0, 1).
        max_margin: float. Largest margin. Defaults to 0.1.
        margin_scale: float. Distance at which the margin reaches 63% of
            `max_margin`. Defaults to 0.5.
        speed_range: (low, high) or None. Speed perturbation of the clean
            crops (None: off). Defaults to (0.9, 1.1).
        vtlp_range: (low, high) or None. Vocal-tract-length warp factor of
            the clean crops, after the speed perturbation (None: off).
            Defaults to None.

    Call arguments:
        batch: dict with `waveform` float32 [B, S] and `length` int [B].
        rng: `numpy.random.Generator`.

    Returns:
        A new dict: `waveform` [B * (1 + copies), S], `length`
        [B * (1 + copies)] int32, `margin` float32 [B, copies].
    """

    def __init__(self, copies=1, kinds=KINDS, severity_range=(0.0, 1.0), max_margin=0.1,
                 margin_scale=0.5, speed_range=(0.9, 1.1), vtlp_range=None):
        if copies < 1:
            raise ValueError(f"copies must be at least 1, got {copies}")
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown degradation kinds {unknown}; choose from {', '.join(KINDS)}")
        self.copies = int(copies)
        self.kinds = tuple(kinds)
        self.severity_range = tuple(float(s) for s in severity_range)
        self.max_margin = float(max_margin)
        self.margin_scale = float(margin_scale)
        self.augment = CleanAugment(speed_range, vtlp_range)

    def __call__(self, batch, rng):
        perturbed = self.augment(batch, rng)
        clean = perturbed["waveform"]
        clean_len = perturbed["length"].astype(np.int64)
        size = clean.shape[0]
        out_waves = [clean]
        out_len = [clean_len]
        margins = np.zeros((size, self.copies), np.float32)
        others = [clean[j, :clean_len[j]] for j in range(size)]
        for c in range(self.copies):
            block = np.zeros_like(clean)
            for i in range(size):
                n = int(clean_len[i])
                kind = self.kinds[int(rng.integers(len(self.kinds)))]
                severity = float(rng.uniform(*self.severity_range))
                pool = others[:i] + others[i + 1:]
                block[i, :n] = degrade(clean[i, :n], kind, severity, rng, others=pool)
                distance = loudness_distance(clean[i, :n], block[i, :n])
                margins[i, c] = ranking_margin(distance, self.max_margin, self.margin_scale)
            out_waves.append(block)
            out_len.append(clean_len)
        result = dict(batch)
        result["waveform"] = np.concatenate(out_waves, axis=0)
        result["length"] = np.concatenate(out_len, axis=0).astype(np.int32)
        result["margin"] = margins
        return result
