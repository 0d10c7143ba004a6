"""Measures the fixed delay of the peer enhancers and checks its removal.

    OMP_NUM_THREADS=1 python bench/peer_delay.py [CLEAN.flac]

For each peer (RNNoise, DeepFilterNet3), on one clean speech file (default:
the first LibriSpeech utterance in ../shared/data):
1. the raw tool at 48 kHz: the lag of the cross-correlation peak between its
   output and its input is the delay the peer module removes (`DELAY`);
2. the peer module at 16 kHz and at 8 kHz: the residual lag must be 0, and
   STOI of the output against the clean input should be near 1 (a noise
   suppressor given clean speech should leave it alone).
Exits 1 when a delay differs from the module's `DELAY` or a residual lag is
not 0.
"""
import glob
import os
import sys
import time

import numpy as np
import soundfile as sf
from scipy.signal import correlate, correlation_lags

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, ROOT)
sys.path.insert(0, BENCH)

from peer_48k import PEER_RATE  # noqa: E402

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


def peak_lag(reference, output):
    """Lag (samples) at which `output` best matches `reference`; positive =
    `output` is late."""
    corr = correlate(output, reference, mode="full", method="fft")
    return int(correlation_lags(len(output), len(reference), mode="full")[np.argmax(corr)])


def peers():
    import peer_deepfilternet
    import peer_rnnoise
    return [("RNNoise", peer_rnnoise, peer_rnnoise.rnnoise_48k, peer_rnnoise.rnnoise_enhance,
             480),
            ("DeepFilterNet3", peer_deepfilternet, peer_deepfilternet.deepfilternet_48k,
             peer_deepfilternet.deepfilternet_enhance, peer_deepfilternet.FRAME_LENGTH)]


def main():
    from vqkeras.evaluation.metrics import stoi
    from vqkeras.resample import resample_waveform

    path = sys.argv[1] if len(sys.argv) > 1 else sorted(glob.glob(
        os.path.join(SHARED, "speech", "librispeech-train-clean-100", "*.flac")))[0]
    clean, rate = sf.read(path, dtype="float32", always_2d=True)
    clean = resample_waveform(clean.mean(axis=1), rate, 16000)
    print(f"clean speech: {os.path.relpath(path, os.path.dirname(ROOT))}, "
          f"{len(clean) / 16000:.1f} s")
    failed = False
    for name, module, raw, enhance, frame in peers():
        if name == "DeepFilterNet3" and module.frame_length() != frame:
            print(f"{name}: frame is {module.frame_length()}, module says {frame}")
            failed = True
        up = resample_waveform(clean, 16000, PEER_RATE)
        signal = np.zeros(len(up) + 4800 + (-(len(up) + 4800)) % frame, np.float32)
        signal[:len(up)] = up
        start = time.time()
        raw_out = raw(signal)
        seconds = time.time() - start
        delay = peak_lag(up, raw_out)
        ok = delay == module.DELAY
        failed |= not ok
        print(f"{name}: raw delay {delay} samples at 48 kHz ({delay / 48:.1f} ms); "
              f"module removes {module.DELAY}{'' if ok else '  <-- MISMATCH'}; "
              f"{len(signal) / PEER_RATE / seconds:.1f}x real time at 48 kHz "
              f"(one state, model load included)")
        for check_rate in (16000, 8000):
            reference = resample_waveform(clean, 16000, check_rate)
            out = enhance(reference, check_rate)
            residual = peak_lag(reference, out)
            failed |= residual != 0 or len(out) != len(reference)
            print(f"  at {check_rate // 1000} kHz: residual lag {residual}, length "
                  f"{len(out)}/{len(reference)}, STOI on clean input "
                  f"{stoi(reference, out, check_rate):.3f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
