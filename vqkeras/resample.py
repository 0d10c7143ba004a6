"""Anti-aliased resampling to the models' 16 kHz."""
import math

import numpy as np


def resample_waveform(waveform, rate_in, rate_out):
    """Band-limited resampling (polyphase FIR, Kaiser window) of a mono
    float32 waveform. Uses scipy when present, else tensorflow-io.

    Raises:
        ImportError: neither scipy nor tensorflow-io is installed (the
            message says what to install).
    """
    if rate_in == rate_out:
        return waveform.astype(np.float32)
    try:
        from scipy.signal import resample_poly
    except ImportError:  # pragma: no cover - scipy ships with jax/keras-tuner installs
        from vqkeras.tf_guard import TensorFlowMissing, import_tensorflow_io
        try:
            tfio = import_tensorflow_io(f"resampling {rate_in} Hz audio to {rate_out} Hz")
        except TensorFlowMissing as err:
            raise ImportError(f"{err}; or install scipy (pip install scipy), which is "
                              "all resampling needs") from None
        import tensorflow as tf
        out = tfio.audio.resample(tf.constant(waveform[:, None]), rate_in, rate_out)
        return out.numpy()[:, 0].astype(np.float32)
    g = math.gcd(int(rate_in), int(rate_out))
    out = resample_poly(waveform.astype(np.float64), rate_out // g, rate_in // g,
                        window=("kaiser", 5.0))
    return out.astype(np.float32)
