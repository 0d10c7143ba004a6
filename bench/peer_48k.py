"""Running a 48 kHz frame-by-frame noise suppressor on audio at any rate.

RNNoise and DeepFilterNet3 (the peers in `bench/enhancement_quality.py`)
take 48 kHz audio in fixed frames and give each frame back a fixed number
of samples late. `run_at_48k` resamples the input to 48 kHz with
`vqkeras.resample` (zero-phase, so it adds no delay of its own), feeds the
frames, drops the tool's delay, and resamples back to the input's rate and
length, so the output lines up with the input sample for sample.
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

PEER_RATE = 48000
PEER_EXTRA = "peers"


def missing_peer(package, tool):
    """The one-line error for a peer whose package is not installed."""
    return ImportError(f"{package} is not installed; the {tool} peer needs it: "
                       f'pip install "vqkeras[{PEER_EXTRA}]"')


def run_frames(process_frame, signal, frame_length):
    """`process_frame(frame_in, frame_out)` over `signal` (float32, a whole
    number of frames long) one frame at a time; returns the output."""
    out = np.empty_like(signal)
    for start in range(0, len(signal), frame_length):
        process_frame(signal[start:start + frame_length], out[start:start + frame_length])
    return out


def run_at_48k(process, waveform, sample_rate, frame_length, delay):
    """`process(signal_48k)` on `waveform`, aligned and at the input's rate.

    Args:
        process: callable taking a float32 48 kHz signal whose length is a
            multiple of `frame_length` and returning one of the same length,
            `delay` samples late.
        waveform: mono float waveform.
        sample_rate: rate of `waveform` in Hz.
        frame_length: the tool's frame in samples at 48 kHz.
        delay: the tool's fixed delay in samples at 48 kHz.

    Returns:
        float32 waveform at `sample_rate`, as long as `waveform`.
    """
    from vqkeras.resample import resample_waveform

    waveform = np.asarray(waveform, dtype=np.float32)
    if len(waveform) == 0:
        return waveform.copy()
    up = resample_waveform(waveform, sample_rate, PEER_RATE)
    total = len(up) + delay
    total += (-total) % frame_length
    padded = np.zeros(total, np.float32)
    padded[:len(up)] = up
    out = np.asarray(process(padded), dtype=np.float32)[delay:delay + len(up)]
    down = resample_waveform(out, PEER_RATE, sample_rate)[:len(waveform)]
    return np.pad(down, (0, len(waveform) - len(down))).astype(np.float32)
