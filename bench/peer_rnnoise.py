"""RNNoise (Valin 2018) as a peer enhancer, from the `pyrnnoise` wheel.

    from peer_rnnoise import rnnoise_enhance
    enhanced = rnnoise_enhance(noisy, 16000)

The wheel ships the RNNoise C library with its trained weights, so nothing
is downloaded. RNNoise works on 48 kHz audio in frames of 480 samples, on
the int16 scale (floats up to 32768); its output is 960 samples (20 ms) late
at 48 kHz, measured by cross-correlation on LibriSpeech speech with
`python bench/peer_delay.py`. The library is called one frame at a time
through `pyrnnoise.rnnoise` (its ctypes binding); one fresh RNNoise state
per waveform, so items do not leak into each other.
"""
import ctypes

import numpy as np

from peer_48k import missing_peer, run_at_48k, run_frames

DELAY = 960           # samples at 48 kHz (20 ms), see bench/peer_delay.py
INT16_SCALE = 32768.0


def require():
    """The `pyrnnoise.rnnoise` ctypes binding; ImportError naming the extra
    when the package is missing."""
    try:
        from pyrnnoise import rnnoise
    except ImportError:
        raise missing_peer("pyrnnoise", "RNNoise") from None
    return rnnoise


def rnnoise_48k(signal):
    """RNNoise on a float 48 kHz signal whose length is a multiple of 480;
    the output has the same length and is `DELAY` samples late."""
    rnnoise = require()
    pointer = ctypes.POINTER(ctypes.c_float)
    state = rnnoise.create()

    def process_frame(frame_in, frame_out):
        rnnoise.lib.rnnoise_process_frame(state, frame_out.ctypes.data_as(pointer),
                                          frame_in.ctypes.data_as(pointer))
    try:
        scaled = np.ascontiguousarray(signal, dtype=np.float32) * INT16_SCALE
        return run_frames(process_frame, scaled, rnnoise.FRAME_SIZE) / INT16_SCALE
    finally:
        rnnoise.destroy(state)


def rnnoise_enhance(waveform, sample_rate=16000):
    """RNNoise on a mono float waveform at any rate: resampled to 48 kHz and
    back, delay removed; same rate and length as the input."""
    frame_length = require().FRAME_SIZE
    return run_at_48k(rnnoise_48k, waveform, sample_rate, frame_length, DELAY)
