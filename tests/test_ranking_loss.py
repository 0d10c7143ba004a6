"""The label-free ranking objective of VQScoreModel (ranking_weight > 0):
clean items alone move the codebook, hinge values, config and saving.
Runs on every backend."""
import os

import keras
import numpy as np
import pytest
from keras import ops

from conftest import synth_speech
from vqkeras.models.vqscore_model import VQScoreModel

S = 8000


class OneBatch(keras.utils.PyDataset):
    def __init__(self, batch):
        super().__init__()
        self.data = batch

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.data


def ranking_batch(degraded_seed, margin):
    clean = np.stack([synth_speech(0.5, seed=s) for s in range(3)])
    noise = np.random.default_rng(degraded_seed).standard_normal(clean.shape).astype("float32")
    degraded = clean + 0.05 * noise
    return {"waveform": np.concatenate([clean, degraded]).astype("float32"),
            "length": np.full(6, S, "int32"),
            "margin": np.full((3, 1), margin, "float32")}


def tiny(ranking_weight=5.0, **kw):
    return VQScoreModel.from_preset("vqscore-tiny", ranking_weight=ranking_weight,
                                    kmeans_init=False, seed=0, **kw)


def state(model):
    q = model.quantizer
    return [ops.convert_to_numpy(v) for v in (q.embed, q.embed_avg, q.cluster_size)]


def one_step(model, batch):
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(OneBatch(batch), epochs=1, verbose=0)
    return state(model)


def test_codebook_update_sees_clean_items_only():
    ref = tiny()
    ref({"waveform": np.zeros((1, S), "float32"), "length": np.array([S], "int32")})
    before = state(ref)
    weights = ref.get_weights()
    results = []
    for degraded_seed, margin in ((1, 0.05), (2, 0.09)):
        model = tiny()
        model.set_weights(weights)
        results.append(one_step(model, ranking_batch(degraded_seed, margin)))
    # the paper's training on the clean half alone
    plain = tiny(ranking_weight=0.0)
    plain.set_weights(weights)
    clean = ranking_batch(1, 0.05)
    clean_only = one_step(plain, {"waveform": clean["waveform"][:3], "length": clean["length"][:3]})
    for a, b, c, old in zip(results[0], results[1], clean_only, before):
        np.testing.assert_allclose(a, b, atol=1e-6)   # degraded half replaced: same update
        np.testing.assert_allclose(a, c, atol=1e-6)   # same as training on clean items only
        assert not np.allclose(a, old)                # and the state did move


def fake_outputs(scores, items_frames=3):
    """y_pred with one VQScore per item: z = (1, 0), zq at angle acos(s)."""
    scores = np.asarray(scores, "float32")
    angle = np.arccos(scores)
    z = np.tile(np.array([1.0, 0.0], "float32"), (len(scores), items_frames, 1))
    zq = np.stack([np.cos(angle), np.sin(angle)], axis=-1)[:, None, :].repeat(items_frames, 1)
    return {"z": ops.convert_to_tensor(z), "zq": ops.convert_to_tensor(zq.astype("float32")),
            "frame_mask": ops.ones((len(scores), items_frames))}


def test_hinge_is_zero_when_margins_are_met_and_positive_otherwise():
    model = tiny()
    y_pred = fake_outputs([0.9, 0.9, 0.8, 0.85])     # clean block, then degraded block
    met = ops.convert_to_numpy(model.ranking_loss(y_pred, np.array([[0.05], [0.05]], "float32")))
    assert float(met) == pytest.approx(0.0, abs=1e-6)
    missed = model.ranking_loss(y_pred, np.array([[0.2], [0.05]], "float32"))
    # item 0: 0.2 - (0.9 - 0.8) = 0.1; item 1 met; mean over 2 pairs
    assert float(ops.convert_to_numpy(missed)) == pytest.approx(0.05, abs=1e-5)


def test_copies_are_also_ranked_against_each_other():
    model = tiny(ranking_copies=2)
    # one crop: clean 0.9, copy 1 (margin 0.02) 0.85, copy 2 (margin 0.08) 0.86
    y_pred = fake_outputs([0.9, 0.85, 0.86])
    loss = model.ranking_loss(y_pred, np.array([[0.02, 0.08]], "float32"))
    # pairs: clean>copy1 met (0.05 >= 0.02); clean>copy2 0.08-0.04=0.04;
    # copy1>copy2 needs 0.06, has -0.01 -> 0.07; mean over 3 pairs
    assert float(ops.convert_to_numpy(loss)) == pytest.approx((0.04 + 0.07) / 3, abs=1e-5)


def test_ceiling_holds_each_drop_near_its_margin():
    plain, capped = tiny(), tiny(ranking_ceiling=2.0)
    # item 0 drops 0.30 for a 0.05 margin (6x), item 1 drops 0.08 for 0.05 (1.6x)
    y_pred = fake_outputs([0.95, 0.95, 0.65, 0.87])
    margins = np.array([[0.05], [0.05]], "float32")
    assert float(ops.convert_to_numpy(plain.ranking_loss(y_pred, margins))) == pytest.approx(0.0, abs=1e-6)
    # only item 0 exceeds 2 x its margin: (0.30 - 0.10) / 2 pairs
    capped_loss = float(ops.convert_to_numpy(capped.ranking_loss(y_pred, margins)))
    assert capped_loss == pytest.approx(0.10, abs=1e-4)
    assert capped.get_config()["ranking_ceiling"] == 2.0


def test_ranking_needs_margins_in_the_batch():
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = ranking_batch(1, 0.05)
    del batch["margin"]
    with pytest.raises(ValueError, match="RankingPairs"):
        model.fit(OneBatch(batch), epochs=1, verbose=0)


def test_ranking_config_round_trip_and_saving(tmp_path):
    model = tiny(ranking_weight=3.0, ranking_copies=2)
    x = {"waveform": np.stack([synth_speech(0.5, seed=1)]), "length": np.array([S], "int32")}
    out = ops.convert_to_numpy(model(x)["vqscore"])
    config = model.get_config()
    assert config["ranking_weight"] == 3.0 and config["ranking_copies"] == 2
    again = VQScoreModel.from_config(config)
    assert again.get_config() == config
    path = os.path.join(tmp_path, "ranking.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.ranking_weight == 3.0 and loaded.ranking_copies == 2
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)["vqscore"]), out, atol=1e-6)


def test_paper_preset_has_no_ranking():
    model = VQScoreModel.from_preset("vqscore-paper")
    assert model.ranking_weight == 0.0
    assert "clean_items" not in [layer.name for layer in model.layers]
