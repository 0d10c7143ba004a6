"""What of the shared data folder validates and tests a model, kept apart
from training: held-out speakers, validation and test noises, room impulse
responses and the DNSMOS model.

Speakers are split so that validation speakers never appear in training
(`split_files`, `default_split`).
"""
import os

import numpy as np

# Validation noises of the default split (the other speech-commands
# backgrounds, `dude_miaowing`, `running_tap` and `pink_noise`, are kept back
# for a final test set).
DEFAULT_VALIDATION_SPEECH_COMMANDS = ("doing_the_dishes.wav", "exercise_bike.wav",
                                      "white_noise.wav")
DEFAULT_TEST_SPEECH_COMMANDS = ("dude_miaowing.wav", "pink_noise.wav", "running_tap.wav")
DEFAULT_HELD_OUT_FRACTION = 0.2

_AUDIO_EXTENSIONS = (".flac", ".wav", ".ogg", ".mp3")


def split_files(files, held_out_fraction=DEFAULT_HELD_OUT_FRACTION, seed=0):
    """Splits speech files by speaker into training and held-out files.

    Every speaker's files go entirely to one side, so held-out (validation)
    speakers are never heard in training. The speaker of a file is the first
    field of a LibriSpeech name (`SPEAKER-CHAPTER-UTTERANCE.flac`), else its
    folder (single-speaker corpora such as LJ Speech). Speakers are sorted,
    shuffled with `seed` and the first `round(held_out_fraction *
    num_speakers)` are held out; this is `vqkeras.data.splits.speaker_split`
    (the split used for training), applied to the sorted file list, so the
    result does not depend on the order of `files`.

    Args:
        files: list of paths.
        held_out_fraction: float in [0, 1]. Fraction of speakers held out.
            Defaults to 0.2.
        seed: int. Shuffling seed. Defaults to 0.

    Returns:
        `(train_files, held_out_files)`, two sorted lists.

    Example:
    >>> train, val = split_files(glob.glob("librispeech/*.flac"), 0.2, seed=0)
    """
    from vqkeras.data.splits import speaker_split

    if not 0.0 <= held_out_fraction <= 1.0:
        raise ValueError(f"held_out_fraction must be in [0, 1], got {held_out_fraction}")
    return speaker_split(sorted(os.fspath(f) for f in files), held_out_fraction, seed)


def calibration_halves(val_speech, seed=0):
    """(calibration files, test files): held-out speech split in two halves
    with `seed`. With the validation speakers of `default_split` and seed 0,
    the first half made the bundled model's calibration, the end of
    `vqkeras train` on a shared data folder calibrates on it too, and the
    second half stays for testing a calibration
    (`bench/calibration_quality.py` splits the same way).

    Returns:
        `(calibration_files, test_files)`, two sorted lists.
    """
    val_speech = sorted(os.fspath(f) for f in val_speech)
    order = np.random.default_rng(seed).permutation(len(val_speech))
    half = len(val_speech) // 2
    return (sorted(val_speech[i] for i in order[:half]),
            sorted(val_speech[i] for i in order[half:]))


def _audio_files(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.lower().endswith(_AUDIO_EXTENSIONS))


def shared_dnsmos_model(data_dir):
    """The path of the DNSMOS P.835 model (`dnsmos/sig_bak_ovr.onnx`) of the
    shared data folder, or None when it is not there."""
    path = os.path.join(data_dir, "dnsmos", "sig_bak_ovr.onnx")
    return path if os.path.isfile(path) else None


def default_split(data_dir, held_out_fraction=DEFAULT_HELD_OUT_FRACTION, seed=0):
    """The project's default train/validation split of the shared data folder.

    - Training speech: the LibriSpeech speakers not held out, plus all of LJ
      Speech (one speaker, 22.05 kHz). Training uses no noise and no RIR.
    - Validation speech: `held_out_fraction` of the LibriSpeech speakers
      (50 of 251 with the defaults), chosen by `split_files(..., seed)`.
    - Validation noise: all of `noise/speechbrain/` and, of
      `noise/speech-commands/`, `doing_the_dishes`, `exercise_bike` and
      `white_noise`.
    - Test noise (kept out of validation for a final check):
      `dude_miaowing`, `pink_noise`, `running_tap` of `noise/speech-commands/`.
    - RIRs: all of `rir/speechbrain/` (validation only).

    Args:
        data_dir: str. The shared data folder (holds `speech/`, `noise/`,
            `rir/`).
        held_out_fraction: float. Defaults to 0.2.
        seed: int. Speaker shuffling seed. Defaults to 0.

    Returns:
        A dict of sorted path lists: `train_speech`, `val_speech`,
        `val_noise`, `test_noise`, `rir`, plus `dnsmos_model` (path or None).

    Example:
    >>> split = default_split("../shared/data")
    >>> len(split["val_speech"])
    50
    """
    libri = _audio_files(os.path.join(data_dir, "speech", "librispeech-train-clean-100"))
    lj = _audio_files(os.path.join(data_dir, "speech", "ljspeech-141"))
    train, val = split_files(libri, held_out_fraction, seed)
    commands = os.path.join(data_dir, "noise", "speech-commands")
    val_noise = _audio_files(os.path.join(data_dir, "noise", "speechbrain"))
    val_noise += [os.path.join(commands, n) for n in DEFAULT_VALIDATION_SPEECH_COMMANDS
                  if os.path.isfile(os.path.join(commands, n))]
    test_noise = [os.path.join(commands, n) for n in DEFAULT_TEST_SPEECH_COMMANDS
                  if os.path.isfile(os.path.join(commands, n))]
    return {
        "train_speech": sorted(train + lj),
        "val_speech": val,
        "val_noise": sorted(val_noise),
        "test_noise": sorted(test_noise),
        "rir": _audio_files(os.path.join(data_dir, "rir", "speechbrain")),
        "dnsmos_model": shared_dnsmos_model(data_dir),
    }
