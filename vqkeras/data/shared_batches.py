"""Handing batches from forked worker processes to the trainer through
shared memory instead of a pipe.

A batch of 64 crops of 3 s is 12 MB; pickling it through a pipe costs more
than making it. The slots are one anonymous shared mapping created before
the workers fork: a worker writes its batch into a slot and returns only the
slot number; the trainer copies the arrays out.
"""
import mmap

import keras
import numpy as np

_ALIGN = 64


class SharedBatchSlots:
    """Fixed-layout batch slots in shared memory.

    Args:
        sample: a batch (nested dict/tuple/list of numpy arrays) whose
            structure, shapes and dtypes every slot holds.
        slots: int. Number of slots.
    """

    def __init__(self, sample, slots):
        self.structure = sample
        leaves = [np.asarray(x) for x in keras.tree.flatten(sample)]
        self.layout, offset = [], 0
        for leaf in leaves:
            self.layout.append((leaf.shape, leaf.dtype, offset))
            offset += -(-leaf.nbytes // _ALIGN) * _ALIGN
        self.slot_bytes = max(offset, _ALIGN)
        self.slots = int(slots)
        self.buffer = mmap.mmap(-1, self.slot_bytes * self.slots)  # shared across fork

    def _views(self, slot):
        base = slot * self.slot_bytes
        return [np.ndarray(shape, dtype, buffer=self.buffer, offset=base + offset)
                for shape, dtype, offset in self.layout]

    def put(self, slot, batch):
        """Writes `batch` into `slot` (worker side). Returns False, writing
        nothing, when the batch does not fit the layout."""
        leaves = keras.tree.flatten(batch)
        if len(leaves) != len(self.layout) or any(
                np.shape(x) != shape or np.asarray(x).dtype != dtype
                for x, (shape, dtype, _) in zip(leaves, self.layout)):
            return False
        for view, leaf in zip(self._views(slot), leaves):
            view[...] = leaf
        return True

    def take(self, slot):
        """A copy of the batch in `slot` (trainer side)."""
        return keras.tree.pack_sequence_as(self.structure,
                                           [view.copy() for view in self._views(slot)])

    def close(self):
        try:
            self.buffer.close()
        except BufferError:
            # An array still views the mapping (a traceback holding a
            # frame, say): it is unmapped when the last view goes.
            pass
