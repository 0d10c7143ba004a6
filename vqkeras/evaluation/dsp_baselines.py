"""Textbook single-channel noise suppression in numpy, as baselines for the
enhancer: a minimum-statistics noise tracker, the decision-directed
log-MMSE (Ephraim-Malah) filter and the decision-directed Wiener filter.

Both filters work on a 32 ms Hann STFT with a 75% overlap at the input's own
sample rate, track the noise causally (recursive smoothing, minimum over the
last 1.5 s, bias calibrated once on white Gaussian noise) and use the
decision-directed a-priori SNR with alpha 0.98 and xi_min -25 dB, the
usual textbook settings. Nothing here was tuned on our data.

References:
    Y. Ephraim and D. Malah, IEEE Trans. ASSP 32(6), 1984 (decision-directed
    a-priori SNR) and 33(2), 1985 (log-spectral amplitude estimator).
    P. Scalart and J. Vieira Filho, ICASSP 1996 (decision-directed Wiener).
    R. Martin, IEEE Trans. Speech and Audio Processing 9(5), 2001 (minimum
    statistics).
"""
import functools

import numpy as np

FRAME_S = 0.032
OVERLAP = 0.75
SMOOTHING = 0.9        # recursive power smoothing per 8 ms hop
MIN_WINDOW_S = 1.5
DD_ALPHA = 0.98
XI_MIN_DB = -25.0


def _stft(waveform, sample_rate):
    from scipy.signal import stft
    n = int(round(FRAME_S * sample_rate))
    _, _, spec = stft(waveform, sample_rate, window="hann", nperseg=n,
                      noverlap=int(n * OVERLAP), boundary="even", padded=True)
    return spec.T  # [frames, bins]


def _istft(spec, sample_rate, length):
    from scipy.signal import istft
    n = int(round(FRAME_S * sample_rate))
    _, out = istft(spec.T, sample_rate, window="hann", nperseg=n, noverlap=int(n * OVERLAP),
                   boundary=True)
    out = out[:length]
    return np.pad(out, (0, length - out.size)).astype(np.float32)


def _hop_s():
    return FRAME_S * (1.0 - OVERLAP)


def _tracked_minimum(power, window):
    """Recursively smoothed power and its minimum over the last `window`
    frames (causal) -> (smoothed, minimum), both [frames, bins]."""
    from scipy.ndimage import minimum_filter1d
    smoothed = np.empty_like(power)
    state = power[0]
    for t in range(power.shape[0]):
        state = SMOOTHING * state + (1.0 - SMOOTHING) * power[t]
        smoothed[t] = state
    # A causal window: the minimum of frames t - window + 1 ... t.
    minimum = minimum_filter1d(smoothed, window, axis=0, mode="nearest",
                               origin=(window - 1) // 2)
    return smoothed, minimum


@functools.lru_cache(maxsize=None)
def _bias(window):
    """Mean of white Gaussian noise power over the mean of its tracked
    minimum, for a window of `window` frames (the minimum's bias)."""
    rng = np.random.default_rng(0)
    frames = max(4 * window, 1000)
    power = np.abs(rng.standard_normal((frames, 64)) + 1j * rng.standard_normal((frames, 64))) ** 2
    _, minimum = _tracked_minimum(power, window)
    return float(power.mean() / minimum[window:].mean())


def minimum_statistics_noise(power, sample_rate):
    """Noise power [frames, bins] of a power spectrogram [frames, bins] by
    minimum statistics (causal, bias-compensated), never above the smoothed
    power."""
    window = max(1, int(round(MIN_WINDOW_S / _hop_s())))
    smoothed, minimum = _tracked_minimum(power, window)
    return np.maximum(np.minimum(_bias(window) * minimum, smoothed), 1e-12)


def _decision_directed(waveform, sample_rate, gain_of):
    waveform = np.asarray(waveform, dtype=np.float64)
    spec = _stft(waveform, sample_rate)
    power = np.abs(spec) ** 2
    noise = minimum_statistics_noise(power, sample_rate)
    gamma = np.minimum(power / noise, 1e4)
    xi_min = 10.0 ** (XI_MIN_DB / 10.0)
    gains = np.empty_like(power)
    previous = np.zeros(power.shape[1])  # |A(t-1)|^2 / N(t-1)
    for t in range(power.shape[0]):
        xi = DD_ALPHA * previous + (1.0 - DD_ALPHA) * np.maximum(gamma[t] - 1.0, 0.0)
        xi = np.maximum(xi, xi_min)
        gains[t] = gain_of(xi, gamma[t])
        previous = gains[t] ** 2 * gamma[t]
    return _istft(spec * gains, sample_rate, waveform.size)


def log_mmse_gain(xi, gamma):
    """Ephraim-Malah (1985) log-spectral amplitude gain, with the exact
    exponential integral."""
    from scipy.special import exp1
    ratio = xi / (1.0 + xi)
    return ratio * np.exp(0.5 * exp1(np.maximum(ratio * gamma, 1e-10)))


def wiener_gain(xi, gamma):
    """Wiener gain xi / (1 + xi)."""
    return xi / (1.0 + xi)


def log_mmse(waveform, sample_rate=16000):
    """Decision-directed log-MMSE (Ephraim-Malah) enhancement of a 1-D
    waveform at `sample_rate`; same length and rate out."""
    return _decision_directed(waveform, sample_rate, log_mmse_gain)


def wiener(waveform, sample_rate=16000):
    """Decision-directed Wiener filtering of a 1-D waveform at
    `sample_rate`; same length and rate out."""
    return _decision_directed(waveform, sample_rate, wiener_gain)


def noisereduce_default(waveform, sample_rate=16000):
    """The `noisereduce` package (spectral gating) with its defaults."""
    import noisereduce
    out = noisereduce.reduce_noise(y=np.asarray(waveform, dtype=np.float32), sr=sample_rate)
    return np.asarray(out, dtype=np.float32)[:len(waveform)]


BASELINES = {"log-MMSE": log_mmse, "Wiener": wiener, "noisereduce": noisereduce_default}
