"""Which waveforms VQScore can judge, decided in numpy before any model runs.

Two kinds of input get no score, only a reason:

- **too short**: fewer samples than one analysis frame (the model's
  `fft_length`, 512 samples = 32 ms at 16 kHz). Such input has no complete
  STFT frame to judge.
- **no speech signal**: after removing the file's mean (its DC offset), the
  loudest frame of `fft_length` samples has an RMS level below
  `MIN_LEVEL_DBFS` (-60 dBFS, relative to a full-scale amplitude of 1.0).
  This covers digital silence, constant and DC signals, and audio too faint
  to judge. On such input the model's instance normalisation divides
  rounding noise by its own tiny spread, so its "score" is arbitrary and
  changes with batch padding and backend.

The rule looks only at the waveform itself, so it is identical for a file
alone, in any batch and on every backend. Every scoring path (`vqkeras.score`,
`vqkeras score` on either engine) applies it through `where_scorable`.
"""
import numpy as np

MIN_LEVEL_DBFS = -60.0
NO_SIGNAL = "no speech signal"
TOO_SHORT = "shorter than one analysis frame"


def loudest_frame_dbfs(waveform, frame_length):
    """RMS level in dBFS of the loudest non-overlapping `frame_length`-sample
    frame (the last frame ends at the last sample), after removing the mean.
    Digital silence gives -inf."""
    x = np.asarray(waveform, dtype=np.float64)
    x = x - x.mean()
    n = len(x) // frame_length * frame_length
    frames = x[:n].reshape(-1, frame_length)
    if n < len(x):
        frames = np.concatenate([frames, x[-frame_length:][None]], axis=0)
    rms = float(np.sqrt(np.max(np.mean(frames ** 2, axis=1))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def signal_problem(waveform, frame_length=512):
    """Why `waveform` (1-D, 16 kHz) cannot be scored, or None if it can.

    Args:
        waveform: 1-D float array, full scale 1.0.
        frame_length: int. The model's analysis frame (`model.fft_length`).

    Returns:
        None, or a message starting with `TOO_SHORT` or `NO_SIGNAL`.
    """
    n = len(waveform)
    if n < frame_length:
        return f"{TOO_SHORT} ({n} samples; at least {frame_length} are needed)"
    level = loudest_frame_dbfs(waveform, frame_length)
    if level == float("-inf"):
        return f"{NO_SIGNAL} (digital silence or a constant signal)"
    if level < MIN_LEVEL_DBFS:
        return (f"{NO_SIGNAL} (loudest frame at {level:.1f} dBFS, below the "
                f"{MIN_LEVEL_DBFS:.0f} dBFS floor)")
    return None


def frame_length_of(model):
    """The analysis frame the rule uses for `model` (its `fft_length`)."""
    return int(getattr(model, "fft_length", 512))


def where_scorable(model, waveforms, run):
    """Applies the rule to a list of waveforms: `run(kept)` is called once
    on the waveforms that can be scored (skipped when there are none) and
    returns one result per waveform given to it.

    Returns:
        One (result, problem) per waveform, in order: (run's result, None)
        for a waveform that was run, (None, `signal_problem` message) for
        one that was not.
    """
    frame_length = frame_length_of(model)
    problems = [signal_problem(w, frame_length) for w in waveforms]
    kept = [w for w, p in zip(waveforms, problems) if not p]
    results = iter(run(kept) if kept else ())
    return [(None, p) if p else (next(results), None) for p in problems]
