"""Calibrated readings of a VQScore: `clean_percentile` and `equivalent_snr_db`.

A raw VQScore has no unit and a narrow spread, so a model can carry a
calibration (plain lists in its config, saved in the `.keras` file) made
from held-out clean speech alone, with no labels:

- `clean_scores`: sorted quantiles of the scores of held-out clean speech.
  `clean_percentile(score)` is the share (0-100) of that speech scoring
  below `score`.
- `snr_db` / `snr_scores`: a non-decreasing curve of the median score of
  the same speech mixed with synthetic noise at each SNR of a grid, fitted
  by pooled-adjacent-violators. `equivalent_snr(score)` reads the curve
  backwards: the SNR of additive noise that gives the same score. Beyond
  the grid the value is held at its end (e.g. 40.0 means "40 dB or
  cleaner", -5.0 "-5 dB or worse"); it never extrapolates.

This module needs only numpy (the Beam launcher and the report import it).
See docs/calibration.md for how the bundled calibration was made and what
the two numbers do not mean.
"""
import json
import math
import os
import zipfile

import numpy as np

VERSION = 1
COLUMNS = ("clean_percentile", "equivalent_snr_db")
NUM_QUANTILES = 201

NO_CALIBRATION_NOTE = ("this model carries no calibration, so clean_percentile and "
                       "equivalent_snr_db are empty; make one from your own clean speech "
                       "with `vqkeras calibrate MODEL --clean DIR -o CALIBRATED.keras`")


def monotone_fit(values, weights=None):
    """Least-squares non-decreasing fit of `values` (pooled adjacent
    violators), as a float array of the same length."""
    values = np.asarray(values, np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, np.float64)
    means, sizes, counts = [], [], []
    for v, w in zip(values, weights):
        means.append(v)
        sizes.append(w)
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            w2 = sizes[-2] + sizes[-1]
            m = (means[-2] * sizes[-2] + means[-1] * sizes[-1]) / w2
            c = counts[-2] + counts[-1]
            del means[-2:], sizes[-2:], counts[-2:]
            means.append(m)
            sizes.append(w2)
            counts.append(c)
    return np.repeat(means, counts)


def build(clean_scores, snr_db, noisy_scores, made_from="", num_quantiles=NUM_QUANTILES):
    """A calibration (a plain dict) from scores without labels.

    Args:
        clean_scores: scores of held-out clean speech.
        snr_db: the SNR of each noisy item.
        noisy_scores: the score of each noisy item (same length as
            `snr_db`); items at the same SNR are summarised by their median.
        made_from: one line saying what speech and noises were used.
        num_quantiles: how many quantiles of the clean scores are kept.

    Returns:
        `{"version", "clean_scores", "snr_db", "snr_scores", "made_from",
        "clean_count", "noisy_count"}`, JSON-ready.

    Raises:
        ValueError: fewer than 2 finite clean scores or 2 SNR levels.
    """
    clean = np.asarray(clean_scores, np.float64)
    clean = np.sort(clean[np.isfinite(clean)])
    if clean.size < 2:
        raise ValueError(f"a calibration needs at least 2 scored clean files, got {clean.size}")
    snr = np.asarray(snr_db, np.float64)
    noisy = np.asarray(noisy_scores, np.float64)
    keep = np.isfinite(snr) & np.isfinite(noisy)
    snr, noisy = snr[keep], noisy[keep]
    grid = np.unique(snr)
    if grid.size < 2:
        raise ValueError("a calibration needs noisy scores at 2 or more SNRs")
    medians = np.array([np.median(noisy[snr == g]) for g in grid])
    counts = np.array([np.sum(snr == g) for g in grid])
    curve = monotone_fit(medians, counts)
    quantiles = np.quantile(clean, np.linspace(0.0, 1.0, num_quantiles))
    return {
        "version": VERSION,
        "clean_scores": [round(float(v), 7) for v in quantiles],
        "snr_db": [float(g) for g in grid],
        "snr_scores": [round(float(v), 7) for v in curve],
        "made_from": str(made_from),
        "clean_count": int(clean.size),
        "noisy_count": int(snr.size),
    }


def check(calibration):
    """`calibration` as a plain dict (lists of floats), or None.

    Raises:
        ValueError: a calibration that is not one this module writes.
    """
    if calibration is None:
        return None
    try:
        plain = json.loads(json.dumps(dict(calibration)))
    except (TypeError, ValueError):
        raise ValueError("calibration must be a JSON-ready dict") from None
    missing = [k for k in ("clean_scores", "snr_db", "snr_scores") if k not in plain]
    if missing:
        raise ValueError(f"calibration lacks {', '.join(missing)}")
    if plain.get("version", VERSION) > VERSION:
        raise ValueError(f"calibration version {plain['version']} is newer than this "
                         f"vqkeras reads ({VERSION}); upgrade vqkeras")
    clean = np.asarray(plain["clean_scores"], np.float64)
    snr = np.asarray(plain["snr_db"], np.float64)
    curve = np.asarray(plain["snr_scores"], np.float64)
    if clean.size < 2 or np.any(np.diff(clean) < 0):
        raise ValueError("calibration clean_scores must be at least 2 sorted values")
    if snr.size < 2 or snr.size != curve.size or np.any(np.diff(snr) <= 0) \
            or np.any(np.diff(curve) < 0):
        raise ValueError("calibration snr_db must rise and snr_scores must not fall, "
                         "with one score per SNR")
    return plain


def clean_percentile(calibration, scores):
    """Share (0-100) of the reference clean speech that scores below each
    score: an array (NaN where a score is NaN)."""
    scores = np.asarray(scores, np.float64)
    ref = np.asarray(calibration["clean_scores"], np.float64)
    # ties in the quantiles (few clean files) give the middle of the tied run
    levels = np.linspace(0.0, 100.0, ref.size)
    lo = np.searchsorted(ref, scores, side="left")
    hi = np.searchsorted(ref, scores, side="right")
    inside = np.interp(scores, ref, levels)
    tied = hi > lo
    mid = 0.5 * (levels[np.clip(lo, 0, ref.size - 1)] + levels[np.clip(hi - 1, 0, ref.size - 1)])
    out = np.where(tied, mid, inside)
    out = np.where(scores < ref[0], 0.0, np.where(scores > ref[-1], 100.0, out))
    return np.where(np.isfinite(scores), out, np.nan)


def equivalent_snr(calibration, scores):
    """The SNR (dB) of additive noise on clean speech that gives each score,
    read from the calibration curve: an array, held at the grid's ends
    beyond them (see `snr_range`), NaN where a score is NaN."""
    scores = np.asarray(scores, np.float64)
    snr = np.asarray(calibration["snr_db"], np.float64)
    curve = np.asarray(calibration["snr_scores"], np.float64)
    # flat stretches of the fit get a tiny rise so the inverse is a function
    curve = curve + np.arange(curve.size) * 1e-12
    out = np.interp(scores, curve, snr)  # np.interp holds the ends
    return np.where(np.isfinite(scores), out, np.nan)


def snr_range(calibration):
    """(lowest, highest) SNR of the curve: an `equivalent_snr_db` equal to
    one of them means "at or beyond"."""
    return float(calibration["snr_db"][0]), float(calibration["snr_db"][-1])


def cut_for_rejection(calibration, rate):
    """The score below which `rate` (0-1) of the reference clean speech
    falls: dropping files below it rejects that share of clean speech."""
    ref = np.asarray(calibration["clean_scores"], np.float64)
    return float(np.interp(100.0 * rate, np.linspace(0.0, 100.0, ref.size), ref))


def columns_for(calibration, score):
    """The two calibrated values of one score as a dict (None for both
    without a calibration or a score), rounded for output."""
    if calibration is None or score is None or not math.isfinite(score):
        return {"clean_percentile": None, "equivalent_snr_db": None}
    return {"clean_percentile": round(float(clean_percentile(calibration, [score])[0]), 2),
            "equivalent_snr_db": round(float(equivalent_snr(calibration, [score])[0]), 2)}


def of_model(model):
    """The calibration a loaded model (or a SavedModel runner, from the
    export's metadata) carries, or None."""
    return getattr(model, "calibration", None)


def stored_in_file(path):
    """The calibration saved in a `.keras` file (read from its config
    without loading a backend) or in a local SavedModel folder written by
    `vqkeras export` (its `assets.extra/vqkeras.json`); None when it has
    none or is neither (an official checkpoint)."""
    if os.path.isdir(path):
        try:
            with open(os.path.join(path, "assets.extra", "vqkeras.json"), encoding="utf-8") as f:
                return json.load(f).get("calibration")
        except (OSError, ValueError, AttributeError):
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return (config.get("config") or {}).get("calibration")
