"""Waveforms of different lengths as one padded batch, in numpy.

Every model runner (Keras models in `vqkeras.inference`, exported
SavedModels in `vqkeras.beam.saved_model_runner`) pads the same way, so a
batch has the same shape, and the same compiled function, whoever runs it.
The models mask the padding: it never changes an item's result.
"""
import numpy as np

# Batches are padded to a multiple of this many samples so compiled
# functions are reused across files.
PAD_QUANTUM = 4096


def pad_batch(waveforms, quantum=PAD_QUANTUM):
    """(batch float32 [items, width], lengths int32 [items]): the 1-D
    `waveforms` zero-padded to one width, the longest length rounded up to
    a multiple of `quantum`."""
    lengths = np.array([len(w) for w in waveforms], dtype=np.int32)
    width = int(-(-max(lengths.max(), 1) // quantum) * quantum)
    batch = np.zeros((len(waveforms), width), dtype=np.float32)
    for i, w in enumerate(waveforms):
        batch[i, :len(w)] = w
    return batch, lengths
