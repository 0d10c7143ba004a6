"""One crop's degradation drawn ahead of rendering: its kind, severity and
every random number `degradations.degrade` would take from the generator,
taken in the same order, so that a batch can then be damaged at once
(`degradation_rendering.render_degradations`) with the same draws.

Example:
>>> plans = [draw_degradation(k, s, n, rng) for k, s, n in zip(kinds, severities, lengths)]
>>> damaged_rows = render_degradations(rows, lengths, plans)
"""
import numpy as np

from vqkeras.data.degradation_kinds import (SAMPLE_RATE, check_degradation, dropout_fraction,
                                            noise_snr_db, reverb_drr_db, reverb_noise_snr_db,
                                            reverb_rt60)


class Draw:
    """One crop's degradation: its kind, severity and random draws (made
    by `draw_degradation`), rendered by `render_degradations`."""

    __slots__ = ("kind", "severity", "length", "values")

    def __init__(self, kind, severity, length, values):
        self.kind, self.severity, self.length, self.values = kind, severity, length, values

    def __repr__(self):
        return f"Draw({self.kind!r}, {self.severity:.3f}, length={self.length})"


def _draw_rir(rt60, drr, rng, sample_rate):
    # the draws of `degradations.synthetic_rir`, in its order
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
    check_degradation(kind, severity)
    n = int(length)
    if n == 0 or silent:
        return Draw(kind, severity, n, None)
    if kind in ("white_noise", "pink_noise", "brown_noise"):
        values = {"noise": rng.standard_normal(n), "colour": kind.split("_")[0],
                  "snr": noise_snr_db(severity)}
    elif kind == "babble":
        pool = [o for o in (others or []) if np.asarray(o).size > 0]
        values = {"snr": noise_snr_db(severity)}
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
        rt60 = reverb_rt60(severity if kind == "reverb" else rng.uniform(0.2, 1.0) * severity)
        values = _draw_rir(rt60, reverb_drr_db(severity), rng, sample_rate)
        if kind == "reverb_noise":
            values["colour"] = "pink" if rng.random() < 0.5 else "white"
            values["noise"] = rng.standard_normal(n)
            values["snr"] = reverb_noise_snr_db(severity)
    elif kind == "dropout":
        target = int(dropout_fraction(severity) * n)
        gaps, removed = [], 0
        while removed < target:
            gap = int(rng.uniform(0.02, 0.12) * sample_rate)
            gaps.append((int(rng.integers(0, max(n - gap, 1))), gap))
            removed += gap
        values = {"gaps": gaps}
    else:  # clip, lowpass, quantize, band_removal: no random draws
        values = {}
    return Draw(kind, float(severity), n, values)
