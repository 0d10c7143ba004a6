"""Enhancing speech: the one path for the Python API, the CLI and the Beam
engine.

- Waveforms up to `CHUNK_THRESHOLD_S` seconds are enhanced whole, in padded,
  masked batches of similar length (sorted by length, so padding is small;
  masking makes each result equal enhancing the file alone).
- Longer ones are enhanced in `CHUNK_S`-second windows overlapping by
  `OVERLAP_S` seconds and joined with linear cross-fades: the enhancer's
  attention cost grows with the square of the length, so a whole 5-minute
  file would need tens of GB (see `bench/long_file_memory.py`).
- A file recorded below 16 kHz keeps nothing above its own Nyquist
  frequency (`limit_to_input_band`).
- A waveform that `vqkeras score` would refuse (shorter than one analysis
  frame, or no speech signal: the rule of `vqkeras.signal_check`) is not
  enhanced: it comes back unchanged, and `problems` says why. The
  exported SavedModel does the same (its `problem` output).
- Files (`iter_enhanced_files`) are read in groups, enhanced as above and
  written by the output rules of `vqkeras.enhanced_output`.

`vqkeras.enhance`, `vqkeras enhance` and `vqkeras.beam.EnhanceAudio` all
call `enhance_many`, so they give the same samples.
"""
import numpy as np

from vqkeras.audio import SAMPLE_RATE

# Files longer than CHUNK_THRESHOLD_S are enhanced in CHUNK_S-second windows
# overlapping by OVERLAP_S seconds and cross-faded (see bench/throughput.py
# for the measurement behind the threshold). Read at call time.
CHUNK_THRESHOLD_S = 20.0
CHUNK_S = 10.0
OVERLAP_S = 1.0


def model_batches(model, enhance_batch=None):
    """`enhance_batch`, or `vqkeras.inference.enhance_waveforms` bound to
    `model`: a function from one list of waveforms (a padded batch) to
    their enhanced versions."""
    if enhance_batch is not None:
        return enhance_batch
    # imported here: naming, reading and writing need no Keras
    from vqkeras.inference import enhance_waveforms

    return lambda waveforms: enhance_waveforms(model, waveforms)


def enhance_long(model, waveform, chunk_s=None, overlap_s=None, batch_size=4,
                 enhance_batch=None):
    """Enhances one long waveform in overlapping windows (`chunk_s` seconds,
    overlapping by `overlap_s`; the module's settings when None), joined
    with linear cross-fades over the overlaps."""
    run = model_batches(model, enhance_batch)
    chunk = int((CHUNK_S if chunk_s is None else chunk_s) * SAMPLE_RATE)
    overlap = int((OVERLAP_S if overlap_s is None else overlap_s) * SAMPLE_RATE)
    step = chunk - overlap
    n = len(waveform)
    starts = list(range(0, max(n - overlap, 1), step))
    enhanced = []
    for i in range(0, len(starts), batch_size):
        enhanced.extend(run([waveform[s:s + chunk] for s in starts[i:i + batch_size]]))
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


def enhance_many(model, waveforms, batch_size=4, chunk_threshold_s=None, input_rates=None,
                 enhance_batch=None, problems=None):
    """Enhanced waveforms (16 kHz float32, each as long as its input), in
    input order. A waveform shorter than one analysis frame or without a
    speech signal (`vqkeras.signal_check.signal_problem`) is returned
    unchanged (a copy), never run through the model.

    Args:
        model: a `VQEnhancerModel` (or any object `enhance_batch` runs).
        waveforms: 1-D float32 arrays at 16 kHz.
        batch_size: items per padded batch (and windows per batch for
            long files). Defaults to 4.
        chunk_threshold_s: waveforms longer than this many seconds are
            enhanced in windows; 0 never windows; None (the default) takes
            `CHUNK_THRESHOLD_S`.
        input_rates: the rate each waveform was recorded at (optional):
            outputs of recordings below 16 kHz keep nothing above their
            Nyquist frequency (`limit_to_input_band`).
        enhance_batch: `(waveforms) -> enhanced` for one padded batch;
            defaults to running `model` (`vqkeras.inference`); an exported
            SavedModel passes its own runner.
        problems: a list or None. When given, one entry per waveform is
            appended: "" for a waveform that was enhanced, or why it was
            returned unchanged (a `signal_problem` message).
    """
    from vqkeras.signal_check import frame_length_of, signal_problem

    run = model_batches(model, enhance_batch)
    if chunk_threshold_s is None:
        chunk_threshold_s = CHUNK_THRESHOLD_S
    limit = chunk_threshold_s * SAMPLE_RATE if chunk_threshold_s else float("inf")
    frame_length = frame_length_of(model)
    why = [signal_problem(w, frame_length) or "" for w in waveforms]
    if problems is not None:
        problems.extend(why)
    out = [np.array(w, dtype=np.float32) if why[i] else None for i, w in enumerate(waveforms)]
    short = sorted((i for i, w in enumerate(waveforms) if not why[i] and len(w) <= limit),
                   key=lambda i: len(waveforms[i]))
    for start in range(0, len(short), batch_size):
        idx = short[start:start + batch_size]
        for i, e in zip(idx, run([waveforms[i] for i in idx])):
            out[i] = e
    for i, w in enumerate(waveforms):
        if out[i] is None:
            out[i] = enhance_long(model, w, batch_size=batch_size, enhance_batch=run)
    if input_rates is not None:  # enhanced inputs recorded below 16 kHz keep their band
        out = [e if problem else limit_to_input_band(e, r)
               for e, r, problem in zip(out, input_rates, why)]
    return out


def iter_enhanced_files(model, plan, batch_size=4, chunk_threshold_s=None, subtype="FLOAT",
                        resume=False, group_files=None):
    """Enhances the (input, output) pairs of `plan` and writes the outputs
    (`vqkeras.enhanced_output` rules), yielding one
    `vqkeras.enhanced_output.result` per pair as it is done (in plan order
    within each group of files).

    Files are read `group_files` at a time (default: 4 batches) and
    enhanced together by `enhance_many`. An unreadable input, a failed
    enhancement or a failed write gives its result an error; the run goes
    on. With `resume`, an input whose output is already complete is kept.
    An input that cannot be judged (too short, no speech signal) is
    written unchanged at 16 kHz; its result's `unchanged` says why.
    """
    from vqkeras.audio import AudioError, read_audio
    from vqkeras.enhanced_output import is_complete, result, write_output

    group = group_files or max(1, batch_size) * 4
    for start in range(0, len(plan), group):
        waves, todo, rates = [], [], []
        for src, dst in plan[start:start + group]:
            try:
                wave, rate = read_audio(src)
            except AudioError as err:
                yield result(src, dst, str(err))
                continue
            if resume and is_complete(dst, len(wave)):
                yield result(src, dst, kept=True, duration_s=len(wave) / SAMPLE_RATE)
                continue
            waves.append(wave)
            rates.append(rate)
            todo.append((src, dst))
        if not waves:
            continue
        problems = []
        try:
            enhanced = enhance_many(model, waves, batch_size=batch_size,
                                    chunk_threshold_s=chunk_threshold_s, input_rates=rates,
                                    problems=problems)
        except Exception as err:  # noqa: BLE001 - one result per file, the run goes on
            for src, dst in todo:
                yield result(src, dst, f"{src}: enhancement failed ({type(err).__name__}: {err})")
            continue
        for (src, dst), wave, e, problem in zip(todo, waves, enhanced, problems):
            notes = []
            try:
                write_output(dst, e, subtype, notes.append)
            except OSError as err:
                yield result(src, dst, f"{dst}: cannot write ({err.strerror or err})")
                continue
            yield result(src, dst, notes=notes, duration_s=len(wave) / SAMPLE_RATE,
                         unchanged=problem)
