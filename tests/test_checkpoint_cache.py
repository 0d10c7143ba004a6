"""Official checkpoints as models: `load_model("X.pkl")` converts on the
fly, caches the .keras beside the checkpoint or in the user cache folder,
and reuses the cache while the checkpoint is unchanged."""
import os
import shutil

import numpy as np
import pytest

from conftest import shared_path, synth_speech

pytest.importorskip("torch")


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("VQKERAS_CACHE", str(tmp_path / "user-cache"))
    folder = tmp_path / "ckpt"
    folder.mkdir()
    path = folder / "qe_checkpoint.pkl"
    shutil.copy(shared_path("reference", "qe_checkpoint.pkl"), path)
    return str(path)


def waves():
    return [synth_speech(1.0, seed=1), synth_speech(1.7, seed=2)]


def scores_of(model):
    from vqkeras.inference import score_waveforms
    return np.asarray(score_waveforms(model, waves()))


def test_on_the_fly_model_scores_like_vqkeras_convert(checkpoint, monkeypatch):
    import vqkeras
    from vqkeras import convert
    from vqkeras.convert import convert_checkpoint

    expected = scores_of(convert_checkpoint(checkpoint, "qe"))
    model = vqkeras.load_model(checkpoint)
    np.testing.assert_allclose(scores_of(model), expected, atol=1e-6)
    cached = checkpoint + ".vqkeras.keras"
    assert os.path.isfile(cached) and os.path.isfile(cached + ".json")

    # unchanged checkpoint: the cache is used, the checkpoint is not read again
    def no_read(path):
        raise AssertionError("checkpoint read although the cache is valid")
    monkeypatch.setattr(convert, "read_state_dict", no_read)
    np.testing.assert_allclose(scores_of(vqkeras.load_model(checkpoint)), expected, atol=1e-6)
    monkeypatch.undo()

    # a changed checkpoint (new modification time) is converted again
    os.utime(checkpoint, ns=(1, 1))
    calls = []
    original = convert.read_state_dict
    monkeypatch.setattr(convert, "read_state_dict", lambda p: calls.append(p) or original(p))
    np.testing.assert_allclose(scores_of(vqkeras.load_model(checkpoint)), expected, atol=1e-6)
    assert calls == [checkpoint]


def test_unwritable_folder_falls_back_to_the_user_cache(checkpoint, monkeypatch, tmp_path):
    import vqkeras

    folder = os.path.dirname(checkpoint)
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda p, mode: False if os.path.abspath(p) == folder else real_access(p, mode))
    model = vqkeras.load_model(checkpoint)
    assert not os.path.exists(checkpoint + ".vqkeras.keras")
    cached = [f for f in os.listdir(tmp_path / "user-cache") if f.endswith(".keras")]
    assert len(cached) == 1 and cached[0].startswith("qe_checkpoint.pkl-")
    assert model.task == "qe"


def test_task_is_checked(checkpoint):
    import vqkeras
    from vqkeras.api import ModelError

    with pytest.raises(ModelError, match="quality-estimation"):
        vqkeras.load_model(checkpoint, task="se")
    assert vqkeras.load_model(checkpoint, task=None).task == "qe"
