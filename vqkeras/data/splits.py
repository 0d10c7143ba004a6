"""Speaker-disjoint train/validation splits."""
import os

import numpy as np


def speaker_of(path):
    """Speaker id from a LibriSpeech-style name `SPEAKER-CHAPTER-UTT.ext`;
    other names count as one speaker per parent folder."""
    name = os.path.basename(path)
    head = name.split("-")[0]
    if "-" in name and head.isdigit():
        return head
    return os.path.basename(os.path.dirname(os.path.abspath(path)))


def speaker_split(files, held_out_fraction=0.2, seed=0):
    """Splits files so no speaker is on both sides.

    Speakers are sorted, shuffled with `seed` and the first
    `held_out_fraction` of them go to validation.

    Returns:
        (train_files, validation_files), each in input order.
    """
    speakers = sorted({speaker_of(f) for f in files})
    order = np.random.default_rng(seed).permutation(len(speakers))
    n_val = int(round(held_out_fraction * len(speakers)))
    held = {speakers[i] for i in order[:n_val]}
    train = [f for f in files if speaker_of(f) not in held]
    val = [f for f in files if speaker_of(f) in held]
    return train, val


def default_speech_split(shared_data_dir):
    """The split used by the bundled default models on `../shared/data`:
    LibriSpeech speakers split 80/20 with seed 0 (validation = the 20%);
    LJ Speech (one speaker) is training only.

    Returns:
        (train_files, validation_files).
    """
    from vqkeras.data.file_lists import collect_audio_files

    libri = collect_audio_files(os.path.join(shared_data_dir, "speech", "librispeech-train-clean-100"))
    lj = collect_audio_files(os.path.join(shared_data_dir, "speech", "ljspeech-141"))
    train, val = speaker_split(libri, 0.2, seed=0)
    return train + lj, val


ALL_SPEECH_SOURCES = ("librispeech-train-clean-100", "ljspeech-141", "ms-snsd-clean", "vcc2018",
                      "dns-fullband")


def all_speech_split(shared_data_dir, held_out_fraction=0.2, seed=0):
    """Every clean-speech source in `shared_data_dir/speech` for training,
    except the held-out LibriSpeech speakers.

    The held-out side is exactly `default_speech_split`'s (LibriSpeech
    speakers split 80/20 with `seed`), so the validation and test sets built
    from it (`vqkeras.data.validation_split.default_split`) stay speaker-disjoint
    from training and comparable with earlier models. LJ Speech,
    MS-SNSD clean, VCC 2018 and DNS fullband speech are training only (their
    speakers never appear in those sets).

    Returns:
        (train_files, validation_files).
    """
    from vqkeras.data.file_lists import collect_audio_files

    speech = os.path.join(shared_data_dir, "speech")
    libri = collect_audio_files(os.path.join(speech, ALL_SPEECH_SOURCES[0]))
    train, val = speaker_split(libri, held_out_fraction, seed=seed)
    for source in ALL_SPEECH_SOURCES[1:]:
        folder = os.path.join(speech, source)
        if os.path.isdir(folder):
            train += collect_audio_files(folder)
    return train, val
