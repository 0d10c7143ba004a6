"""Degradations made with recorded material: convolution with a recorded
room impulse response, and excerpts of a recorded noise.

The synthetic degradations (noise at an SNR, clipping, low-pass, ...) are in
`vqkeras.data.degradations`.
"""
import numpy as np

from vqkeras.audio import SAMPLE_RATE
from vqkeras.data.levels import rms

RIR_HIGH_PASS_HZ = 50.0
# Width of the roll-off of the RIR's high-pass.
RIR_HIGH_PASS_TRANSITION_HZ = 40.0


def _raised_cosine_low_pass(freqs, cutoff_hz, transition_hz):
    """Gain 1 below `cutoff - transition/2`, 0 above `cutoff + transition/2`."""
    position = np.clip((freqs - (cutoff_hz - transition_hz / 2)) / transition_hz, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * position))


def reverberate(waveform, rir, sample_rate=SAMPLE_RATE, high_pass_hz=RIR_HIGH_PASS_HZ):
    """Convolves `waveform` with a room impulse response.

    The RIR is trimmed so that its strongest tap (the direct path) is at lag
    0, keeping the result time-aligned with the dry signal, and its response
    below `high_pass_hz` is removed (some recorded RIRs carry a large DC
    offset that would otherwise dominate the energy and distort SNRs). The
    result has the input's length and RMS.
    """
    waveform = np.asarray(waveform, dtype=np.float64)
    rir = np.asarray(rir, dtype=np.float64)
    rir = rir[int(np.argmax(np.abs(rir))):]
    size = waveform.size + rir.size - 1
    nfft = 1 << (size - 1).bit_length()
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    high_pass = 1.0 - _raised_cosine_low_pass(freqs, high_pass_hz, RIR_HIGH_PASS_TRANSITION_HZ)
    response = np.fft.rfft(rir, nfft) * high_pass
    wet = np.fft.irfft(np.fft.rfft(waveform, nfft) * response, nfft)[:waveform.size]
    wet_rms = rms(wet)
    return wet * (rms(waveform) / wet_rms) if wet_rms > 0 else wet


def noise_segment(noise, num_samples, rng, attempts=10):
    """A random `num_samples` excerpt of `noise` (repeated end to end when too
    short), avoiding near-silent excerpts when possible."""
    if noise.size < num_samples + 1:
        noise = np.tile(noise, -(-(num_samples + 1) // noise.size))
    segment = None
    for _ in range(attempts):
        start = int(rng.integers(0, noise.size - num_samples + 1))
        segment = noise[start:start + num_samples].astype(np.float64)
        if rms(segment) > 1e-5:
            break
    return segment
