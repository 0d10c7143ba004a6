"""The rule of `vqkeras.signal_check` as `keras.ops` code, for graphs that
run without vqkeras around them (the exported SavedModel).

`problem_codes(waveform, length, frame_length)` gives, per item of a padded
batch, 0 when the item can be judged, `TOO_SHORT_CODE` when it has fewer
than `frame_length` valid samples, and `NO_SIGNAL_CODE` when its loudest
frame (non-overlapping frames of `frame_length` samples, the last one ending
at the last valid sample, after removing the item's mean) is below
`signal_check.MIN_LEVEL_DBFS`. The same items get the same verdict as the
numpy rule, up to float32 rounding right at the -60 dBFS floor.
"""
from vqkeras.signal_check import MIN_LEVEL_DBFS

OK_CODE = 0
TOO_SHORT_CODE = 1
NO_SIGNAL_CODE = 2
MEANINGS = {OK_CODE: "scored", TOO_SHORT_CODE: "too short", NO_SIGNAL_CODE: "no speech signal"}


def problem_codes(waveform, length, frame_length=512):
    """int32 [batch] codes for float32 `waveform` [batch, samples] (zero
    padded) and int32 `length` [batch]."""
    from keras import ops

    samples = ops.shape(waveform)[1]
    length = ops.cast(length, "int32")
    positions = ops.arange(samples, dtype="int32")[None, :]
    valid = ops.cast(positions < length[:, None], "float32")
    count = ops.maximum(ops.cast(length, "float32"), 1.0)
    mean = ops.sum(waveform * valid, axis=1) / count
    centred = (waveform - mean[:, None]) * valid
    # whole frames from the start
    frames = (samples + frame_length - 1) // frame_length
    padded = ops.pad(centred, ((0, 0), (0, frames * frame_length - samples)))
    energy = ops.mean(ops.reshape(padded, (-1, frames, frame_length)) ** 2, axis=2)
    whole = ops.cast((ops.arange(frames, dtype="int32")[None, :] + 1) * frame_length
                     <= length[:, None], "float32")
    loudest = ops.max(energy * whole, axis=1)
    # the frame that ends at the last valid sample
    start = ops.maximum(length - frame_length, 0)
    index = start[:, None] + ops.arange(frame_length, dtype="int32")[None, :]
    index = ops.minimum(index, samples - 1)
    last = ops.take_along_axis(centred, index, axis=1)
    loudest = ops.maximum(loudest, ops.mean(last ** 2, axis=1))
    floor = 10.0 ** (MIN_LEVEL_DBFS / 10.0)  # the power of a -60 dBFS RMS level
    codes = ops.where(loudest < floor, NO_SIGNAL_CODE, OK_CODE)
    codes = ops.where(length < frame_length, TOO_SHORT_CODE, codes)
    return ops.cast(codes, "int32")
