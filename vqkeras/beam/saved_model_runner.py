"""Running an exported vqkeras SavedModel with plain TensorFlow."""
import json
import posixpath

import numpy as np

from vqkeras.padded_batch import pad_batch

METADATA_FILE = posixpath.join("assets.extra", "vqkeras.json")


def is_saved_model(path):
    """True when `path` (local or on a Beam filesystem) is a SavedModel folder."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.exists(FileSystems.join(path.rstrip("/"), "saved_model.pb"))


class SavedModelRunner:
    """A SavedModel written by `vqkeras export`, loaded with TensorFlow alone.

    Offers what the Beam handler needs from a vqkeras model: `task`,
    `hop_length`, `calibration`, `score_frames(waveforms)` and
    `enhance(waveforms)`, each on
    one padded batch through the model's own signatures (padding never
    changes an item's result).

    Args:
        path: the SavedModel folder; TensorFlow reads local, `gs://` and
            `hdfs://` paths directly.
    """

    def __init__(self, path):
        import tensorflow as tf

        self.path = path
        self._tf = tf
        self._loaded = tf.saved_model.load(path)
        with tf.io.gfile.GFile(posixpath.join(path.rstrip("/"), METADATA_FILE)) as f:
            meta = json.load(f)
        self.task = meta["task"]
        self.hop_length = int(meta["hop_length"])
        self.fft_length = int(meta.get("fft_length", 512))
        # what turns scores into clean_percentile / equivalent_snr_db (None
        # without one, and in SavedModels exported before it was recorded)
        self.calibration = meta.get("calibration")

    def _call(self, signature, waveforms):
        batch, lengths = pad_batch(waveforms)
        fn = self._loaded.signatures[signature]
        out = fn(waveform=self._tf.constant(batch), length=self._tf.constant(lengths))
        return {k: v.numpy() for k, v in out.items()}, lengths

    def score_frames(self, waveforms):
        """(scores, frame_scores): the VQScore of each waveform (its mean
        over valid frames) and its per-frame cosines."""
        out, lengths = self._call("frame_scores", waveforms)
        frames, mask = out["frame_scores"], out["frame_mask"]
        counts = 1 + lengths // self.hop_length
        scores = (frames * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
        return [float(s) for s in scores], [frames[i, :c] for i, c in enumerate(counts)]

    def enhance(self, waveforms):
        """Enhanced waveforms, each trimmed to its input's length."""
        out, lengths = self._call("serving_default", waveforms)
        return [out["enhanced"][i, :n] for i, n in enumerate(lengths)]
