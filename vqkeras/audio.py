"""Reading and writing audio files."""
import os

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000


class AudioError(Exception):
    """An audio file that cannot be used; the message names the file and why."""


def read_audio(path, sample_rate=SAMPLE_RATE, resample=True):
    """Reads any file libsndfile can decode as mono float32 at `sample_rate`.

    Multichannel audio is averaged to mono; integer PCM is scaled to [-1, 1).
    Other rates are resampled (anti-aliased) when `resample` is true, else
    rejected.

    Returns:
        (waveform float32 [samples], original sample rate).

    Raises:
        AudioError: unreadable, empty, non-finite or wrong-rate input.
    """
    path = os.fspath(path)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile's messages vary by format
        # libsndfile's "Error opening 'PATH': " would name the file a second time
        reason = str(err).split("\n")[0].replace(f"Error opening {path!r}: ", "")
        if not os.path.exists(path):
            reason = "no such file"
        elif os.path.isdir(path):
            reason = "is a directory"
        raise AudioError(f"{path}: cannot read audio ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: file holds no samples")
    waveform = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(waveform)):
        raise AudioError(f"{path}: audio holds NaN or Inf samples")
    if rate != sample_rate:
        if not resample:
            raise AudioError(f"{path}: sample rate is {rate} Hz; {sample_rate} Hz is required")
        from vqkeras.resample import resample_waveform
        waveform = resample_waveform(waveform, rate, sample_rate)
    return np.ascontiguousarray(waveform, dtype=np.float32), rate


def write_audio(path, waveform, sample_rate=SAMPLE_RATE, subtype="PCM_16"):
    """Writes a wav atomically: to `path + ".part"`, then renamed, so a
    killed writer never leaves a partial file under `path`. PCM subtypes
    clip samples outside [-1, 1] (scale first to avoid that); "FLOAT" keeps
    every value."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".part"
    waveform = np.asarray(waveform, dtype=np.float32)
    if subtype.startswith("PCM"):
        waveform = np.clip(waveform, -1.0, 1.0)
    try:
        sf.write(tmp, waveform, sample_rate, subtype=subtype, format="WAV")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
