"""Decoded training audio kept in memory, and the crop batches cut from it."""
import sys
import time

import numpy as np

from vqkeras.audio import SAMPLE_RATE
from vqkeras.data.crop_plan import crop_plan, cut_crop


class WaveformStore:
    """Mono float32 waveforms in one flat array (cheap to share with forked
    worker processes), addressed by index.

    Args:
        waveforms: list of 1-D float arrays (empty ones are dropped).
        names: optional list of names (file paths) in the same order.
    """

    def __init__(self, waveforms, names=None):
        names = list(names) if names is not None else [str(i) for i in range(len(waveforms))]
        kept = [(np.asarray(w, dtype=np.float32).reshape(-1), n)
                for w, n in zip(waveforms, names) if np.size(w)]
        if not kept:
            raise ValueError("no readable, non-empty audio files")
        lengths = np.array([w.shape[0] for w, _ in kept], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.flat = np.concatenate([w for w, _ in kept])
        self.names = [n for _, n in kept]

    @classmethod
    def from_files(cls, files, sample_rate=SAMPLE_RATE, verbose=True):
        """Decodes `files` with soundfile (resampling other rates), skipping
        files that hold no samples.

        Raises:
            vqkeras.audio.AudioError: a file that cannot be read (named).
        """
        from vqkeras.audio import read_audio
        from vqkeras.data.file_lists import audio_info

        start = time.time()
        waveforms, names = [], []
        for path in files:
            if audio_info(path)[1] == 0:
                continue
            waveforms.append(read_audio(path, sample_rate)[0])
            names.append(path)
        store = cls(waveforms, names)
        if verbose:
            print(f"vqkeras: decoded {len(store)} training files "
                  f"({store.total_seconds(sample_rate) / 3600:.2f} h) in {time.time() - start:.1f} s",
                  file=sys.stderr)
        return store

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, index):
        return self.flat[self.offsets[index]:self.offsets[index + 1]]

    def total_seconds(self, sample_rate=SAMPLE_RATE):
        return float(self.flat.shape[0]) / sample_rate

    def crop_batch(self, seed, batch_index, batch_size, crop_samples, gain_range=(0.05, 2.0)):
        """Global batch `batch_index` of the crop plan.

        Returns:
            `{"waveform": float32 [batch, crop_samples], "length": int32 [batch]}`.
        """
        file_ids, fractions, gains = crop_plan(seed, batch_index, batch_size, len(self),
                                               gain_range)
        waveform = np.empty((batch_size, crop_samples), dtype=np.float32)
        length = np.empty(batch_size, dtype=np.int32)
        for i, (f, u, g) in enumerate(zip(file_ids, fractions, gains)):
            waveform[i], length[i] = cut_crop(self[f], u, g, crop_samples)
        return {"waveform": waveform, "length": length}
