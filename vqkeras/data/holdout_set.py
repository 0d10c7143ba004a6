"""A validation set made from the user's own clean speech, with no labels.

Training on your own folder needs a way to pick the best checkpoint, and
the only material is clean speech. `holdout_split` keeps a seeded share of
the files (whole speaker folders where the files sit in one folder per
speaker) out of training; `damaged_pairs` mixes each held-out file with a
synthetic noise at a drawn SNR and returns `(waveform, snr_db)` pairs. The
SNR is the label: a quality score should rise with it, so the training
validation logs how well the score follows it (`val_lcc`, `val_srcc`).

The noises are made from nothing but random numbers and the held-out speech
itself: white, pink and brown noise, and babble (three other held-out
utterances summed), so the set exists for any language or microphone.
"""
import os

import numpy as np

from vqkeras.audio import SAMPLE_RATE

NOISE_KINDS = ("white", "pink", "brown", "babble")


def _group(path, files_root):
    """The folder a file sits in, relative to the common root: a speaker
    folder in the usual corpus layouts."""
    return os.path.relpath(os.path.dirname(path), files_root)


def holdout_split(files, fraction=0.1, seed=0, min_items=2):
    """(train, held_out) lists of paths.

    Files are held out by folder when they sit in at least 5 folders (so no
    speaker is on both sides), otherwise file by file. At least `min_items`
    files are held out and at least one stays for training.

    Raises:
        ValueError: fewer than `min_items + 1` files, or a fraction outside
            (0, 0.5].
    """
    files = sorted(files)
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"validation.holdout must be in (0, 0.5], got {fraction!r}")
    if len(files) < min_items + 1:
        raise ValueError(f"{len(files)} training file(s): too few to hold out a validation set "
                         f"(at least {min_items + 1} needed); add files or train with "
                         "--no-validation")
    rng = np.random.default_rng(seed)
    root = os.path.commonpath([os.path.abspath(f) for f in files]) if len(files) > 1 else ""
    groups = sorted({_group(os.path.abspath(f), root) for f in files})
    if len(groups) >= 5:
        order = [groups[i] for i in rng.permutation(len(groups))]
        wanted = max(min_items, int(round(fraction * len(files))))
        held_groups, count = set(), 0
        by_group = {}
        for f in files:
            by_group.setdefault(_group(os.path.abspath(f), root), []).append(f)
        for g in order[:-1]:  # at least one folder stays for training
            if count >= wanted:
                break
            held_groups.add(g)
            count += len(by_group[g])
        held = [f for f in files if _group(os.path.abspath(f), root) in held_groups]
    else:
        count = min(len(files) - 1, max(min_items, int(round(fraction * len(files)))))
        held = sorted(files[i] for i in rng.permutation(len(files))[:count])
    held_set = set(held)
    return [f for f in files if f not in held_set], held


def coloured_noise(kind, length, rng):
    """Unit-power noise of `length` samples: white (flat spectrum), pink
    (power falling 3 dB per octave) or brown (6 dB per octave)."""
    white = rng.standard_normal(length)
    if kind != "white":
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(length, 1.0 / SAMPLE_RATE)
        exponent = {"pink": 0.5, "brown": 1.0}[kind]
        # below 20 Hz the slope is held flat, so no DC drift dominates
        spectrum /= np.maximum(freqs, 20.0) ** exponent
        white = np.fft.irfft(spectrum, length)
    return (white / (np.sqrt(np.mean(white ** 2)) + 1e-12)).astype(np.float32)


def _babble(others, length, rng, talkers=3):
    mix = np.zeros(length, np.float64)
    for k in rng.choice(len(others), size=min(talkers, len(others)), replace=False):
        talker = np.asarray(others[k], np.float64)
        if talker.size == 0:
            continue
        reps = int(np.ceil(length / talker.size))
        start = int(rng.integers(0, talker.size))
        tiled = np.tile(talker, reps + 1)[start:start + length]
        mix += tiled / (np.sqrt(np.mean(tiled ** 2)) + 1e-12)
    power = np.sqrt(np.mean(mix ** 2))
    return (mix / power).astype(np.float32) if power > 0 else None


def damaged_pairs(waveforms, snr_range=(-5.0, 30.0), seed=0, copies=2, max_seconds=8.0):
    """`(noisy waveform, snr_db)` pairs from clean 16 kHz waveforms.

    Each waveform (cut to its first `max_seconds`) gets `copies` noisy
    versions, each with a noise kind from `NOISE_KINDS` (babble only when
    there are at least 4 waveforms) and an SNR drawn uniformly from
    `snr_range`. The mixture's peak is kept at or below 1. The same seed
    gives the same pairs.
    """
    rng = np.random.default_rng(seed)
    clips = [np.asarray(w, np.float32)[:int(max_seconds * SAMPLE_RATE)] for w in waveforms]
    kinds = NOISE_KINDS if len(clips) >= 4 else NOISE_KINDS[:3]
    pairs = []
    for i, clean in enumerate(clips):
        power = float(np.mean(clean.astype(np.float64) ** 2))
        if clean.size < SAMPLE_RATE // 4 or power <= 0:
            continue  # silent or shorter than a quarter second: nothing to damage
        for _ in range(copies):
            kind = kinds[int(rng.integers(len(kinds)))]
            snr = float(rng.uniform(*snr_range))
            noise = None
            if kind == "babble":
                noise = _babble([c for j, c in enumerate(clips) if j != i], clean.size, rng)
            if noise is None:
                noise = coloured_noise("white" if kind == "babble" else kind, clean.size, rng)
            noisy = clean + noise * np.float32(np.sqrt(power / 10.0 ** (snr / 10.0)))
            peak = float(np.max(np.abs(noisy)))
            if peak > 1.0:
                noisy = noisy / np.float32(peak)
            pairs.append((noisy.astype(np.float32), snr))
    return pairs
