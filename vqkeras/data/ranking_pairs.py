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

The random draws (kind, severity, then the kind's own draws, crop after
crop and copy after copy) are those of degrading each crop with
`degradations.degrade`; the signal processing and the distances run over
the whole batch (`render_degradations`, `loudness_distances`).
"""
import numpy as np

from vqkeras.data.clean_augment import CleanAugment
from vqkeras.data.degradation_draws import draw_degradation
from vqkeras.data.degradation_kinds import KINDS
from vqkeras.data.degradation_rendering import render_degradations
from vqkeras.data.perceptual_distance import band_powers, loudness_distances, ranking_margins


class RankingPairs:
    """Picklable `transform(batch, rng)` for the crop dataset.

    Args:
        copies: int. Degraded copies per clean crop. With 2 or more, copies
            of one crop are also ranked against each other by their margins.
            Defaults to 1.
        kinds: sequence of degradation kinds (see `degradation_kinds.KINDS`).
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

    def draw(self, clean, lengths, rng):
        """The degradations of a batch of clean crops, copy after copy and
        crop after crop: for each, its kind, its severity, then the kind's
        own draws (`degradation_draws.draw_degradation`), all from `rng`.

        Args:
            clean: float32 [B, S], zero beyond each length.
            lengths: int [B].
            rng: `numpy.random.Generator`.

        Returns:
            list of B * copies `degradation_draws.Draw` (copy 1 of every crop,
            then copy 2, ...).
        """
        lengths = np.asarray(lengths, np.int64)
        size = clean.shape[0]
        energy = np.einsum("ij,ij->i", clean, clean).astype(np.float64)
        silent = np.sqrt(energy / np.maximum(lengths, 1)) < 1e-7
        crops = [clean[j, :lengths[j]] for j in range(size)]
        draws = []
        for _ in range(self.copies):
            for i in range(size):
                kind = self.kinds[int(rng.integers(len(self.kinds)))]
                severity = float(rng.uniform(*self.severity_range))
                others = crops[:i] + crops[i + 1:] if kind == "babble" else None
                draws.append(draw_degradation(kind, severity, lengths[i], rng, others=others,
                                              silent=silent[i]))
        return draws

    def __call__(self, batch, rng):
        perturbed = self.augment(batch, rng)
        clean = perturbed["waveform"]
        clean_len = perturbed["length"].astype(np.int64)
        size = clean.shape[0]
        draws = self.draw(clean, clean_len, rng)
        waveform = np.empty((size * (1 + self.copies), clean.shape[1]), np.float32)
        waveform[:size] = clean
        rows = np.tile(clean, (self.copies, 1))
        lengths = np.tile(clean_len, self.copies)
        damaged = render_degradations(rows, lengths, draws, out=waveform[size:])
        distances = loudness_distances(clean, damaged, lengths, clean_power=band_powers(clean),
                                       clean_index=np.tile(np.arange(size), self.copies))
        margins = ranking_margins(distances, self.max_margin, self.margin_scale)
        result = dict(batch)
        result["waveform"] = waveform
        result["length"] = np.tile(clean_len, 1 + self.copies).astype(np.int32)
        result["margin"] = margins.reshape(self.copies, size).T.copy()
        return result
