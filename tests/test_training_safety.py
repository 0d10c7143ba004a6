"""Training safety: resume after a kill, NaN stops the run, atomic saves."""
import os

import numpy as np
import pytest
import keras
import soundfile as sf
from keras import ops

from conftest import synth_speech
from vqkeras.models import build_from_preset
from vqkeras.training.callbacks import PeriodicCheckpoint, StopOnNaN
from vqkeras.training.recipe import load_recipe
from vqkeras.training.trainer import train


class Killed(Exception):
    pass


class KillAt(keras.callbacks.Callback):
    """Simulates a killed process at the start of a given epoch and records
    the codebook state then."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        if keras.backend.backend() == "jax":
            self.model.jax_state_sync()
        self.seen.append((epoch, ops.convert_to_numpy(self.model.quantizer.embed_avg).copy()))
        if epoch == self.epoch:
            raise Killed()


class Recorder(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if keras.backend.backend() == "jax":
            self.model.jax_state_sync()
        self.last = (epoch, ops.convert_to_numpy(self.model.quantizer.embed_avg).copy())


@pytest.fixture
def recipe(tmp_path):
    data = tmp_path / "speech"
    data.mkdir()
    for i in range(3):
        sf.write(data / f"s{i}.wav", synth_speech(1.0, seed=i), 16000)
    path = tmp_path / "r.yaml"
    path.write_text(f"task: qe\npreset: vqscore-tiny\ndata:\n  train: {data}\n  batch_size: 2\n"
                    f"  crop_seconds: 0.5\nsteps: 6\nsteps_per_epoch: 2\n"
                    f"checkpoint_every: 2\noutput_dir: {tmp_path / 'run'}\n")
    return load_recipe(str(path))


def test_killed_run_resumes_at_the_same_step_with_the_same_codebook(recipe, tmp_path):
    recorder = Recorder()
    with pytest.raises(Killed):
        train(recipe, verbose=0, extra_callbacks=[recorder, KillAt(2)])
    assert recorder.last[0] == 1  # two epochs (4 steps) completed
    resumed = KillAt(-1)
    summary = train(recipe, verbose=0, extra_callbacks=[resumed])
    first_epoch, state = resumed.seen[0]
    assert first_epoch == 2, "the resumed run must start where the killed one stopped"
    np.testing.assert_array_equal(state, recorder.last[1])
    run = tmp_path / "run"
    assert sorted(f for f in os.listdir(run) if f.startswith("model_")) == [
        "model_0000002.keras", "model_0000004.keras", "model_0000006.keras"]
    assert summary["history"]["loss"] and len(summary["history"]["loss"]) == 1
    assert not [f for f in os.listdir(run) if f.endswith(".tmp.keras")]


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_from_preset("vqscore-tiny", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    good = np.stack([synth_speech(0.5, seed=i) for i in range(4)])
    bad = good.copy()
    bad[:, 100] = np.nan
    x = {"waveform": np.concatenate([good, bad]), "length": np.full(8, good.shape[1], "int32")}
    guard = StopOnNaN()
    ckpt = PeriodicCheckpoint(str(tmp_path), every_steps=1)
    history = model.fit(x, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[guard, ckpt])
    assert guard.message and "nan" in guard.message.lower()
    assert len(history.history["loss"]) == 1, "training must stop in the epoch the loss broke"
    assert not (tmp_path / "model_0000002.keras").exists()
    assert not (tmp_path / "last.keras").exists()
    kept = keras.saving.load_model(str(tmp_path / "model_0000001.keras"))
    assert np.isfinite(ops.convert_to_numpy(kept.quantizer.embed)).all()
