"""Enhancing a corpus: padded batches for short files, chunked overlap-add
for long ones (the enhancer's attention cost grows with the square of the
length)."""
import numpy as np

from vqkeras.audio import SAMPLE_RATE
from vqkeras.inference import enhance_waveforms

# Files longer than CHUNK_THRESHOLD_S are enhanced in CHUNK_S-second windows
# overlapping by OVERLAP_S seconds and cross-faded (see bench/throughput.py
# for the measurement behind the threshold).
CHUNK_THRESHOLD_S = 20.0
CHUNK_S = 10.0
OVERLAP_S = 1.0


def enhance_long(model, waveform, chunk_s=CHUNK_S, overlap_s=OVERLAP_S, batch_size=4):
    """Enhances one long waveform in overlapping windows, joined with linear
    cross-fades over the overlaps."""
    chunk = int(chunk_s * SAMPLE_RATE)
    overlap = int(overlap_s * SAMPLE_RATE)
    step = chunk - overlap
    n = len(waveform)
    starts = list(range(0, max(n - overlap, 1), step))
    pieces = [waveform[s:s + chunk] for s in starts]
    enhanced = []
    for i in range(0, len(pieces), batch_size):
        enhanced.extend(enhance_waveforms(model, pieces[i:i + batch_size]))
    out = np.zeros(n, dtype=np.float32)
    weight = np.zeros(n, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, overlap + 2, dtype=np.float32)[1:-1]
    for k, (s, piece) in enumerate(zip(starts, enhanced)):
        w = np.ones(len(piece), dtype=np.float32)
        if k > 0:
            w[:overlap] = ramp[:len(w[:overlap])]
        if k < len(starts) - 1 and len(piece) > overlap:
            w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
        out[s:s + len(piece)] += piece * w
        weight[s:s + len(piece)] += w
    return out / np.maximum(weight, 1e-8)


# --- issue 11: inputs recorded below 16 kHz ---------------------------------
def limit_to_input_band(waveform, input_rate, transition=0.05):
    """A 16 kHz enhanced waveform with nothing above the Nyquist frequency of
    the recording it came from (`input_rate` Hz; 16 kHz and above: returned
    unchanged): a zero-phase FFT low-pass whose gain is 1 up to
    `1 - transition` of that frequency, falls as a raised cosine and is 0
    from it on. The gain is never above 1, so no band gets louder."""
    if not input_rate or input_rate >= SAMPLE_RATE:
        return waveform
    waveform = np.asarray(waveform, np.float32)
    nyquist = 0.5 * float(input_rate)
    freqs = np.fft.rfftfreq(waveform.size, 1.0 / SAMPLE_RATE)
    start = (1.0 - transition) * nyquist
    position = np.clip((freqs - start) / (nyquist - start), 0.0, 1.0)
    gain = (0.5 + 0.5 * np.cos(np.pi * position)).astype(np.float32)
    return np.fft.irfft(np.fft.rfft(waveform) * gain, waveform.size).astype(np.float32)
# --- end issue 11 -------------------------------------------------------------


def enhance_many(model, waveforms, batch_size=4, chunk_threshold_s=CHUNK_THRESHOLD_S,
                 input_rates=None):
    """Enhanced waveforms, in input order: files up to `chunk_threshold_s`
    exactly (padded, masked batches of similar length), longer ones chunked.
    `input_rates` (optional, one per waveform) are the rates the files were
    recorded at: outputs of files below 16 kHz keep nothing above their
    Nyquist frequency (`limit_to_input_band`). The output is always 16 kHz."""
    out = [None] * len(waveforms)
    limit = chunk_threshold_s * SAMPLE_RATE if chunk_threshold_s else float("inf")
    short = sorted((i for i, w in enumerate(waveforms) if len(w) <= limit),
                   key=lambda i: len(waveforms[i]))
    for start in range(0, len(short), batch_size):
        idx = short[start:start + batch_size]
        for i, e in zip(idx, enhance_waveforms(model, [waveforms[i] for i in idx])):
            out[i] = e
    for i, w in enumerate(waveforms):
        if out[i] is None:
            out[i] = enhance_long(model, w)
    if input_rates is not None:  # issue 11
        out = [limit_to_input_band(e, r) for e, r in zip(out, input_rates)]
    return out
