"""Signal levels: RMS, setting a clip to a speech level in dBFS, and the one
gain that keeps several signals under a peak limit."""
import numpy as np


def rms(waveform):
    """Root mean square of a waveform, computed in float64."""
    return float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64))))


def set_level(waveform, level_dbfs):
    """`waveform` scaled so that its RMS is `level_dbfs` dB below full scale
    (a silent input stays silent)."""
    return waveform * (10.0 ** (level_dbfs / 20.0) / max(rms(waveform), 1e-12))


def peak_limit_gain(waveforms, peak_limit):
    """The gain (at most 1) that, applied to every waveform alike, keeps the
    largest absolute sample of all of them at or below `peak_limit`."""
    peak = max(np.max(np.abs(w)) for w in waveforms)
    return min(1.0, peak_limit / peak) if peak > 0 else 1.0
