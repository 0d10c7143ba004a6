"""Building a deterministic set of degraded speech for validating quality
estimators and enhancers trained on clean speech only.

Each item is a clean utterance (at most `max_seconds`, 16 kHz) put through one
degradation: additive noise at a chosen SNR, reverberation (with or without
noise), hard clipping or low-pass filtering, or none (clean anchors). The
clean reference is written beside it, so intrusive labels can be computed
against it afterwards (`vqkeras.evaluation.set_labels.label_noisy_set`) and
a model's scores correlated with them (see `VQScoreValidation`).

Which items get which condition, speech, SNR, noise and RIR is
`vqkeras.data.noisy_set_plan`; the default held-out speakers, noises and RIRs
are `vqkeras.data.validation_split.default_split`; reading a set back is
`vqkeras.data.noisy_set_loader.load_noisy_set`.
"""
import csv
import os
import sys
import time

import numpy as np

from vqkeras.audio import SAMPLE_RATE, read_audio, write_audio
from vqkeras.data.degradations import add_at_snr, hard_clip, low_pass
from vqkeras.data.levels import peak_limit_gain, set_level
from vqkeras.data.noisy_set_plan import (
    DEFAULT_DEGRADATIONS,
    NOISE_CONDITIONS,
    RIR_CONDITIONS,
    allocate_conditions,
    plan_items,
)
from vqkeras.data.recorded_degradations import noise_segment, reverberate

DEFAULT_SNRS = (-5, 0, 5, 10, 15, 20)
# Fraction of samples clipped (the clipping level is that quantile of |x|).
CLIP_FRACTIONS = (0.01, 0.03, 0.1, 0.2, 0.4)
LOWPASS_CUTOFFS_HZ = (1000, 2000, 3000, 4000, 5000)
# Clean speech is set to this RMS level before it is degraded.
SPEECH_LEVEL_DBFS = -26.0
PEAK_LIMIT = 0.99

# Columns of labels.csv: the label columns (`pesq`, `stoi` are left empty
# here and filled by the labelling step), then the description of the item.
LABEL_COLUMNS = ("path", "clean_path", "snr", "condition", "noise", "pesq", "stoi")
EXTRA_COLUMNS = ("rir", "param", "source")


def _short_name(path):
    path = os.path.abspath(os.fspath(path))
    return f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}"


def _degrade(clean, plan, load, rng):
    """`(degraded, param)` of one item: `clean` put through the planned
    condition (`param` is the clipped fraction or the cutoff, else "")."""
    condition = plan["condition"]
    degraded, param = clean, ""
    if condition in RIR_CONDITIONS:
        degraded = reverberate(clean, load(plan["rir"]))
    if condition in NOISE_CONDITIONS:
        segment = noise_segment(load(plan["noise"]), clean.size, rng)
        degraded = add_at_snr(degraded, segment, plan["snr"])
    if condition == "clip":
        fraction = float(rng.choice(CLIP_FRACTIONS))
        degraded, param = hard_clip(clean, fraction), f"{fraction:g}"
    if condition == "lowpass":
        cutoff = int(rng.choice(LOWPASS_CUTOFFS_HZ))
        degraded, param = low_pass(clean, cutoff), str(cutoff)
    return degraded, param


def build_noisy_set(speech_files, noise_files, rir_files, out_dir, snrs=DEFAULT_SNRS,
                    num_items=200, seed=0, degradations=None, max_seconds=6.0, quiet=False):
    """Builds a deterministic set of degraded speech with clean references.

    Item `i` takes a random excerpt (at most `max_seconds`) of a speech file
    (files are used in turn, in a shuffled order), sets it to -26 dBFS RMS
    and degrades it by one condition:

    - `clean`: unchanged (a top anchor).
    - `noise`: a random excerpt of a noise file added at an SNR from `snrs`.
    - `reverb`: convolved with a RIR (direct path aligned at lag 0).
    - `reverb_noise`: reverberated, then noise added at an SNR (the SNR is
      that of the reverberant speech to the noise).
    - `clip`: hard clipping of a fraction (`CLIP_FRACTIONS`) of the samples.
    - `lowpass`: low-pass at a cutoff from `LOWPASS_CUTOFFS_HZ`.

    Conditions, SNRs, noises and RIRs are spread evenly over the items and
    shuffled. Degraded and clean reference are scaled together so that
    neither peaks above 0.99, then written as 16-bit wavs
    `out_dir/noisy/NNNN_CONDITION.wav` and `out_dir/clean/NNNN_CONDITION.wav`.
    The `pesq` and `stoi` columns are left empty: labelling is a second
    step, `vqkeras.evaluation.set_labels.label_noisy_set`, which computes
    them (and optionally DNSMOS OVRL) from the written files.

    Everything depends only on the arguments: the same seed gives the same
    audio bytes, whatever the order of the file lists.

    Cost on a 2-core CPU: well under 0.1 s per 6 s item.

    Args:
        speech_files: list of clean speech paths (any rate; resampled to
            16 kHz).
        noise_files: list of noise paths (needed for `noise`, `reverb_noise`).
        rir_files: list of RIR paths (needed for `reverb`, `reverb_noise`).
        out_dir: str. Output folder (created; files of the same names are
            overwritten).
        snrs: sequence of SNRs in dB. Defaults to (-5, 0, 5, 10, 15, 20).
        num_items: int. Number of items. Defaults to 200.
        seed: int. Defaults to 0.
        degradations: dict condition -> relative weight, or a list of
            conditions (equal weights), or None for `DEFAULT_DEGRADATIONS`
            (clean 1, noise 8, reverb 1, reverb_noise 4, clip 2, lowpass 2).
        max_seconds: float. Longest excerpt. Defaults to 6.
        quiet: bool. No progress on stderr. Defaults to `False`.

    Returns:
        The path of `out_dir/labels.csv`. Its columns are `path,clean_path,
        snr,condition,noise,pesq,stoi,rir,param,source`: `param` is the
        clipped fraction or cutoff in Hz, `source` the speech file and
        excerpt start. Paths are relative to the CSV's folder; `snr`,
        `noise` and `rir` are empty where they do not apply.

    Example:
    >>> split = default_split("../shared/data")
    >>> csv_path = build_noisy_set(split["val_speech"], split["val_noise"],
    ...                            split["rir"], "val_set", num_items=200)
    >>> label_noisy_set(csv_path)  # vqkeras.evaluation.set_labels
    """
    start_time = time.time()
    speech_files = sorted(os.fspath(f) for f in speech_files)
    noise_files = sorted(os.fspath(f) for f in noise_files or ())
    rir_files = sorted(os.fspath(f) for f in rir_files or ())
    snrs = [float(s) for s in snrs]
    if not speech_files:
        raise ValueError("build_noisy_set needs at least one speech file")
    if num_items < 1:
        raise ValueError(f"num_items must be positive, got {num_items}")
    counts = allocate_conditions(DEFAULT_DEGRADATIONS if degradations is None else degradations,
                                 num_items)
    needs_noise = sum(counts.get(c, 0) for c in NOISE_CONDITIONS)
    needs_rir = sum(counts.get(c, 0) for c in RIR_CONDITIONS)
    if needs_noise and not noise_files:
        raise ValueError("noise conditions requested but no noise_files given")
    if needs_noise and not snrs:
        raise ValueError("noise conditions requested but snrs is empty")
    if needs_rir and not rir_files:
        raise ValueError("reverb conditions requested but no rir_files given")
    plans = plan_items(counts, len(speech_files), snrs, noise_files, rir_files, seed)

    cache = {}

    def load(path):
        if path not in cache:
            cache[path] = read_audio(path)[0].astype(np.float64)
        return cache[path]

    out_dir = os.fspath(out_dir)
    os.makedirs(os.path.join(out_dir, "noisy"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "clean"), exist_ok=True)
    max_len = int(round(max_seconds * SAMPLE_RATE))
    rows = []
    for i, plan in enumerate(plans):
        item_rng = np.random.default_rng([seed, i])
        source = speech_files[plan["speech"]]
        speech = load(source)
        offset = int(item_rng.integers(0, max(speech.size - max_len, 0) + 1))
        clean = set_level(speech[offset:offset + max_len], SPEECH_LEVEL_DBFS)
        degraded, param = _degrade(clean, plan, load, item_rng)
        scale = peak_limit_gain([degraded, clean], PEAK_LIMIT)

        name = f"{i:04d}_{plan['condition']}.wav"
        noisy_rel, clean_rel = f"noisy/{name}", f"clean/{name}"
        write_audio(os.path.join(out_dir, noisy_rel), degraded * scale)
        write_audio(os.path.join(out_dir, clean_rel), clean * scale)
        rows.append({
            "path": noisy_rel,
            "clean_path": clean_rel,
            "snr": "" if plan["snr"] is None else f"{plan['snr']:g}",
            "condition": plan["condition"],
            "noise": "" if plan["noise"] is None else _short_name(plan["noise"]),
            "pesq": "",
            "stoi": "",
            "rir": "" if plan["rir"] is None else _short_name(plan["rir"]),
            "param": param,
            "source": f"{_short_name(source)}@{offset / SAMPLE_RATE:.3f}",
        })
        if not quiet and ((i + 1) % max(1, num_items // 10) == 0 or i + 1 == num_items):
            print(f"noisy set: {i + 1}/{num_items} items ({time.time() - start_time:.1f} s)",
                  file=sys.stderr, flush=True)

    labels_path = os.path.join(out_dir, "labels.csv")
    with open(labels_path + ".part", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS + EXTRA_COLUMNS,
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(labels_path + ".part", labels_path)
    if not quiet:
        print(f"noisy set: wrote {labels_path} ({num_items} items, "
              f"{time.time() - start_time:.1f} s)", file=sys.stderr, flush=True)
    return labels_path


def build_default_noisy_set(data_dir, out_dir, num_items=200, seed=0, quiet=False):
    """Builds the default validation set from the shared data folder: the
    held-out speakers, validation noises and RIRs of
    `vqkeras.data.validation_split.default_split(data_dir)`.

    With the defaults: 200 items of at most 6 s (about 70 MB of wavs) from
    the 50 held-out LibriSpeech speakers, in well under a minute. Label it
    with `vqkeras.evaluation.set_labels.label_default_noisy_set` (PESQ, STOI
    and DNSMOS OVRL; DNSMOS takes 2-4 minutes on 2 CPU cores).

    Args:
        data_dir: str. The shared data folder.
        out_dir: str. Output folder.
        num_items: int. Defaults to 200.
        seed: int. Seed of the items (the speaker split always uses seed 0).
            Defaults to 0.
        quiet: bool. Defaults to `False`.

    Returns:
        The path of the labels CSV.

    Example:
    >>> labels = build_default_noisy_set("../shared/data", "runs/val_set")
    """
    from vqkeras.data.validation_split import default_split

    split = default_split(data_dir)
    return build_noisy_set(split["val_speech"], split["val_noise"], split["rir"], out_dir,
                           num_items=num_items, seed=seed, quiet=quiet)
