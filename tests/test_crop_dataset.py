"""The numpy input pipeline (CropDataset) and its agreement with tf.data."""
import os
import threading

import keras
import numpy as np
import pytest
import soundfile as sf
from keras import ops

from conftest import BACKEND, synth_speech, tf_only
from vqkeras.data.crop_dataset import CropDataset
from vqkeras.data.crop_plan import crop_plan
from vqkeras.data.training_dataset import make_training_dataset, resolve_pipeline
from vqkeras.data.waveform_store import WaveformStore


def _store(lengths=(3000, 800, 5000, 1200, 4000), seed=0):
    r = np.random.default_rng(seed)
    return WaveformStore([(0.3 * r.standard_normal(n)).astype(np.float32) for n in lengths])


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in ("waveform", "length"))


def test_batches_are_crops_with_bounded_gain_and_padding():
    store = _store()
    ds = CropDataset(store, batch_size=4, crop_seconds=0.125, sample_rate=16000, seed=3,
                     steps_per_epoch=5)
    for i in range(len(ds)):
        batch = ds[i]
        assert batch["waveform"].shape == (4, 2000) and batch["waveform"].dtype == np.float32
        assert batch["length"].dtype == np.int32
        assert np.max(np.abs(batch["waveform"])) <= 1.0 + 1e-6
        for row, n in zip(batch["waveform"], batch["length"]):
            assert not np.any(row[n:])  # zero padding past the valid part
    # The 800-sample file is shorter than a crop: it comes whole, zero-padded.
    lengths = np.concatenate([ds[i]["length"] for i in range(len(ds))])
    assert 800 in lengths and set(lengths) <= {800, 1200, 2000}
    # Every crop is a scaled piece of its file, with the planned gain unless
    # that would clip.
    file_ids, fractions, gains = crop_plan(3, 0, 4, len(store))
    batch = ds[0]
    for row, f, g in zip(batch["waveform"], file_ids, gains):
        source = store[f]
        peak_ok = g * np.max(np.abs(source)) <= 1.0
        scale = np.max(np.abs(row)) / max(np.max(np.abs(source)), 1e-8)
        assert scale <= g + 1e-5
        if peak_ok:
            assert np.any(np.isclose(np.max(np.abs(row)) / g, np.abs(source), rtol=1e-5))


def test_each_pass_visits_every_file_once():
    store = _store(lengths=(900,) * 6)
    ids = np.concatenate([crop_plan(0, b, 4, len(store))[0] for b in range(3)])
    assert sorted(ids[:6]) == list(range(6)) and sorted(ids[6:12]) == list(range(6))


def test_reproducible_from_seed_and_epochs_differ():
    store = _store()
    a = CropDataset(store, batch_size=3, crop_seconds=0.1, seed=1, steps_per_epoch=4)
    b = CropDataset(store, batch_size=3, crop_seconds=0.1, seed=1, steps_per_epoch=4)
    c = CropDataset(store, batch_size=3, crop_seconds=0.1, seed=2, steps_per_epoch=4)
    assert _same(a[2], b[2]) and not _same(a[2], c[2])
    first = a[0]
    a.epoch = 1
    assert not _same(first, a[0])
    assert _same(a[0], b.batch(4))  # epoch 1, batch 0 is plan batch 4
    with pytest.raises(ValueError, match="seed"):
        CropDataset(store, seed=-1)


def _double_gain(batch, rng):
    return {"waveform": batch["waveform"] * 0.5, "length": batch["length"],
            "noise": rng.standard_normal(3).astype(np.float32)}


def _ragged(batch, rng):
    # batches of varying shapes come back from worker processes pickled
    keep = int(rng.integers(100, 200))
    return batch["waveform"][:, :keep], batch["length"]


@pytest.mark.parametrize("processes,transform", [(True, _double_gain), (False, _double_gain),
                                                 (True, _ragged)])
def test_workers_give_the_same_batches(processes, transform):
    store = _store()
    kwargs = dict(batch_size=3, crop_seconds=0.1, seed=5, steps_per_epoch=3,
                  transform=transform)
    serial = CropDataset(store, **kwargs)
    pooled = CropDataset(store, workers=2, use_multiprocessing=processes, **kwargs)
    try:
        # fit's first look at batch 0, then two epochs.
        order = [(0, 0)] + [(e, i) for e in range(2) for i in range(3)]
        for epoch, index in order:
            serial.epoch = pooled.epoch = epoch
            x, y = serial[index], pooled[index]
            keys = x.keys() if isinstance(x, dict) else range(len(x))
            assert all(np.array_equal(x[k], y[k]) for k in keys)
    finally:
        pooled.close()


_MAIN_PID = os.getpid()


def _broken(batch, rng):
    # Fails in workers only (the training process makes batch 0 itself to
    # lay out the shared memory).
    if os.getpid() != _MAIN_PID or threading.current_thread() is not threading.main_thread():
        raise ValueError("transform failed on purpose")
    return batch


@pytest.mark.parametrize("processes", [True, False])
def test_an_error_in_a_worker_is_raised_by_the_batch_that_needed_it(processes):
    ds = CropDataset(_store(), batch_size=2, crop_seconds=0.05, steps_per_epoch=3,
                     transform=_broken, workers=2, use_multiprocessing=processes)
    try:
        with pytest.raises(ValueError, match="on purpose") as info:
            ds[1]
        if processes:  # the worker's traceback comes along as the cause
            assert "_broken" in str(info.value.__cause__)
    finally:
        ds.close()


def test_workers_start_again_after_close():
    store = _store()
    ds = CropDataset(store, batch_size=2, crop_seconds=0.05, steps_per_epoch=3, workers=2)
    ds.close()  # never started: nothing to do
    try:
        first = ds[0]
        pids = [p.pid for p in ds._pool.procs]
        ds.close()
        ds.close()
        assert ds._pool is None
        assert _same(ds[0], first) and _same(ds[2], ds.batch(2))
        assert not {p.pid for p in ds._pool.procs} & set(pids)  # new workers
    finally:
        ds.close()


class _Recorder(keras.Model):
    """Records the sum of every batch it is trained on."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(x["waveform"][:, :4])

    def train_step(self, *args):
        data = args[-1]
        self.seen.append(float(np.sum(ops.convert_to_numpy(data["waveform"]))))
        logs = {"batches": float(len(self.seen))}
        return (logs, args[0]) if BACKEND == "jax" else logs


@pytest.mark.parametrize("workers", [0, 2])
def test_fit_sees_plan_batches_in_order(workers):
    store = _store()
    ds = CropDataset(store, batch_size=3, crop_seconds=0.1, seed=0, steps_per_epoch=3,
                     workers=workers)
    model = _Recorder()
    model.compile(optimizer="sgd", run_eagerly=True)
    try:
        model.fit(ds, epochs=2, steps_per_epoch=3, callbacks=[ds.epoch_callback()], verbose=0,
                  shuffle=False)
    finally:
        ds.close()
    expected = [float(np.sum(ds.store.crop_batch(0, g, 3, 1600)["waveform"])) for g in range(6)]
    np.testing.assert_allclose(model.seen, expected, rtol=1e-5)


def test_pipeline_choice():
    assert resolve_pipeline("auto", "tensorflow") == "tf"
    assert resolve_pipeline("auto", "torch") == "numpy"
    assert resolve_pipeline("auto", "jax") == "numpy"
    assert resolve_pipeline("numpy", "tensorflow") == "numpy"
    with pytest.raises(ValueError, match="pipeline"):
        resolve_pipeline("torchdata", "torch")


@tf_only
def test_tf_data_gives_the_same_crops_as_the_numpy_pipeline(tmp_path):
    # PCM16 WAV and FLAC go through tensorflow-io (when installed), float WAV
    # through soundfile, in both pipelines' decoders.
    sf.write(tmp_path / "a.wav", synth_speech(0.6, seed=1), 16000, subtype="PCM_16")
    sf.write(tmp_path / "b.flac", synth_speech(0.3, seed=2), 16000, subtype="PCM_16")
    sf.write(tmp_path / "c.wav", synth_speech(0.9, seed=3), 16000, subtype="FLOAT")
    files = [str(tmp_path / n) for n in ("a.wav", "b.flac", "c.wav")]
    numpy_ds = CropDataset(files, batch_size=4, crop_seconds=0.5, seed=7, steps_per_epoch=3)
    tf_batches = list(make_training_dataset(files, batch_size=4, crop_seconds=0.5, seed=7)
                      .take(6).as_numpy_iterator())
    for epoch in range(2):
        numpy_ds.epoch = epoch
        for i in range(3):
            assert _same(numpy_ds[i], tf_batches[3 * epoch + i])
    resumed = next(make_training_dataset(files, batch_size=4, crop_seconds=0.5, seed=7,
                                         first_batch=4).as_numpy_iterator())
    assert _same(resumed, tf_batches[4])
