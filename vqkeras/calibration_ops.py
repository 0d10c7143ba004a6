"""The readings of `vqkeras.calibration` as `keras.ops` code, for graphs
that run without vqkeras around them (the exported SavedModel).

`clean_percentile(calibration, scores)` and `equivalent_snr(calibration,
scores)` take a [batch] tensor of scores and give what the numpy functions
of `vqkeras.calibration` give for the same scores: the same linear
interpolation in the stored quantiles and curve, the middle of a tied run
of quantiles, values held at the ends (0 and 100; the lowest and highest
SNR of the curve), and NaN where a score is NaN. The calibration's lists
become float64 constants of the graph and the arithmetic runs in float64,
so on TensorFlow (the export) and torch the two paths agree to float32
rounding of the result. JAX without `jax_enable_x64` runs it in float32,
where a score may tie with a quantile that it misses in float64.
"""
import numpy as np


def _interp(x, xp, fp):
    """`np.interp(x, xp, fp)` for rising `xp` (numpy float64, at least 2
    values) and a float64 tensor `x` [batch]: linear inside, held at the
    ends."""
    from keras import ops

    size = int(xp.size)
    xs, fs = ops.convert_to_tensor(xp), ops.convert_to_tensor(fp)
    # the interval [xp[j], xp[j + 1]] holding x: j = (number of xp <= x) - 1
    below = ops.sum(ops.cast(xs[None, :] <= x[:, None], "int32"), axis=1)
    j = ops.clip(below - 1, 0, size - 2)
    x0, x1 = ops.take(xs, j), ops.take(xs, j + 1)
    f0, f1 = ops.take(fs, j), ops.take(fs, j + 1)
    rises = x1 > x0  # a flat step (only where float64 is unavailable) reads its start
    inside = ops.where(rises, f0 + (x - x0) * (f1 - f0) / ops.where(rises, x1 - x0, 1.0), f0)
    held = ops.where(x <= xs[0], fs[0], ops.where(x >= xs[size - 1], fs[size - 1], inside))
    return held


def clean_percentile(calibration, scores):
    """float32 [batch]: share (0-100) of the reference clean speech scoring
    below each score (NaN where a score is NaN)."""
    from keras import ops

    ref = np.asarray(calibration["clean_scores"], np.float64)
    levels = np.linspace(0.0, 100.0, ref.size)
    x = ops.cast(scores, "float64")
    refs, lv = ops.convert_to_tensor(ref), ops.convert_to_tensor(levels)
    # a score equal to one or more quantiles takes the middle of their levels
    lo = ops.sum(ops.cast(refs[None, :] < x[:, None], "int32"), axis=1)
    hi = ops.sum(ops.cast(refs[None, :] <= x[:, None], "int32"), axis=1)
    last = ref.size - 1
    mid = 0.5 * (ops.take(lv, ops.clip(lo, 0, last)) + ops.take(lv, ops.clip(hi - 1, 0, last)))
    # strictly between quantiles: their interval is unique, so ties do not matter
    out = ops.where(hi > lo, mid, _interp(x, ref, levels))
    out = ops.where(x < ref[0], 0.0, ops.where(x > ref[-1], 100.0, out))
    return ops.cast(ops.where(ops.isnan(x), float("nan"), out), "float32")


def equivalent_snr(calibration, scores):
    """float32 [batch]: the SNR (dB) of additive noise giving each score,
    held at the curve's ends (NaN where a score is NaN)."""
    from keras import ops

    snr = np.asarray(calibration["snr_db"], np.float64)
    curve = np.asarray(calibration["snr_scores"], np.float64)
    # the same tiny rise on flat stretches as vqkeras.calibration.equivalent_snr
    curve = curve + np.arange(curve.size) * 1e-12
    x = ops.cast(scores, "float64")
    out = _interp(x, curve, snr)
    return ops.cast(ops.where(ops.isnan(x), float("nan"), out), "float32")
