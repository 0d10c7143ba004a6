"""Spectrogram PNGs of a few evaluated items (noisy, enhanced, clean side by
side), chosen from the smallest to the largest improvement."""
import math
import os

import numpy as np

from vqkeras.evaluation.enhancement_measures import ROLES
from vqkeras.evaluation.report_tables import format_number


def pick_for_plots(rows, count):
    """Up to `count` rows spread evenly from the smallest to the largest
    PESQ gain (SI-SDR gain where PESQ is undefined)."""
    def gain(row):
        g = row["pesq_enhanced"] - row["pesq_noisy"]
        if not math.isfinite(g):
            g = row["si_sdr_enhanced"] - row["si_sdr_noisy"]
        return g if math.isfinite(g) else 0.0

    ranked = sorted(range(len(rows)), key=lambda i: gain(rows[i]))
    if count >= len(ranked):
        return ranked
    picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, count)).astype(int))
    return [ranked[i] for i in picks]


def plot_name(rel):
    """The PNG name of an item: its relative path without extension, with
    `/` as `__`."""
    stem = os.path.splitext(rel)[0].replace("/", "__")
    return f"{stem}.png"


def write_spectrograms(plot_dir, pairs, rows, count):
    """Writes the spectrogram PNGs of up to `count` items into `plot_dir`.

    Args:
        plot_dir: str. Output folder (created).
        pairs: list of `(relative path, {role: path})`, aligned with `rows`.
        rows: per-item metric dicts.
        count: int.

    Returns:
        The list of written paths.
    """
    from vqkeras.audio import read_audio
    from vqkeras.evaluation.plots import spectrogram_comparison

    os.makedirs(plot_dir, exist_ok=True)
    written = []
    for i in pick_for_plots(rows, count):
        rel, paths = pairs[i]
        waves = {role: read_audio(paths[role])[0] for role in ROLES}
        r = rows[i]
        title = (f"{rel}: PESQ {format_number(r['pesq_noisy'], 2)} -> "
                 f"{format_number(r['pesq_enhanced'], 2)}, SI-SDR "
                 f"{format_number(r['si_sdr_noisy'], 1)} -> "
                 f"{format_number(r['si_sdr_enhanced'], 1)} dB")
        written.append(spectrogram_comparison(
            os.path.join(plot_dir, plot_name(rel)),
            [(role, waves[role]) for role in ROLES], title=title))
    return written
