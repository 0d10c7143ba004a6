"""Model-level behaviour on every backend: save/load, fit, padding safety."""
import os

import numpy as np
import pytest
import keras
from keras import ops

from conftest import synth_speech
from vqkeras.inference import enhance_waveforms, run_model
from vqkeras.models import VQEnhancerModel, VQScoreModel, build_from_preset

PRESETS = ["vqscore-tiny", "enhancer-tiny"]


def random_codebook(model, seed=0):
    """Fills an untrained model's codebook so inference is meaningful."""
    rng = np.random.default_rng(seed)
    codes = rng.standard_normal((model.codebook_size, model.codebook_dim)).astype("float32")
    if model.use_cosine_sim:
        codes /= np.linalg.norm(codes, axis=-1, keepdims=True)
    model.quantizer.embed.assign(codes)
    model.quantizer.initted.assign(1.0)
    return model


def batch_of(waves):
    width = max(len(w) for w in waves)
    x = np.zeros((len(waves), width), "float32")
    for i, w in enumerate(waves):
        x[i, :len(w)] = w
    return {"waveform": x, "length": np.array([len(w) for w in waves], "int32")}


@pytest.mark.parametrize("preset", PRESETS)
def test_save_load_round_trip(preset, tmp_path):
    model = random_codebook(build_from_preset(preset, seed=0))
    x = batch_of([synth_speech(1.0, seed=1), synth_speech(0.7, seed=2)])
    before = model.predict_on_batch(x)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    after = loaded.predict_on_batch(x)
    for key in ("vqscore", "decoded", "z"):
        np.testing.assert_allclose(np.asarray(after[key]), np.asarray(before[key]), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(after["indices"]), np.asarray(before["indices"]))


@pytest.mark.parametrize("preset", PRESETS)
def test_fit_updates_weights_and_codebook_but_predict_does_not(preset):
    keras.utils.set_random_seed(0)
    model = build_from_preset(preset, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9))
    waves = [synth_speech(1.0, seed=s) * g for s, g in zip(range(4), (1, 0.5, 0.2, 0.8))]
    x = batch_of(waves)
    conv = model.encoder.convs[0].kernel
    kernel_before = ops.convert_to_numpy(conv).copy()
    history = model.fit(x, batch_size=4, epochs=2, verbose=0)
    for key in ("loss", "reconstruction_loss", "vq_loss", "perplexity", "codebook_usage", "dead_codes"):
        assert np.isfinite(history.history[key][-1]), key
    assert float(ops.convert_to_numpy(model.quantizer.initted)) == 1.0
    assert not np.allclose(kernel_before, ops.convert_to_numpy(conv)), "encoder got no gradient"
    embed = ops.convert_to_numpy(model.quantizer.embed).copy()
    avg = ops.convert_to_numpy(model.quantizer.embed_avg).copy()
    model.predict(x, batch_size=4, verbose=0)
    model.evaluate(x, batch_size=4, verbose=0)
    np.testing.assert_array_equal(embed, ops.convert_to_numpy(model.quantizer.embed))
    np.testing.assert_array_equal(avg, ops.convert_to_numpy(model.quantizer.embed_avg))


@pytest.mark.parametrize("preset", PRESETS)
def test_padded_batch_equals_each_item_alone(preset):
    model = random_codebook(build_from_preset(preset, seed=0))
    waves = [synth_speech(s, seed=k) for k, s in enumerate((1.3, 0.45, 0.9, 0.05))]
    keys = ("vqscore", "z", "decoded", "indices")
    together = run_model(model, waves, keys)
    for wave, joint in zip(waves, together):
        alone = run_model(model, [wave], keys)[0]
        assert abs(float(alone["vqscore"]) - float(joint["vqscore"])) <= 1e-5
        np.testing.assert_allclose(joint["z"], alone["z"], atol=1e-4)
        np.testing.assert_allclose(joint["decoded"], alone["decoded"], atol=1e-4, rtol=1e-4)
        assert np.mean(joint["indices"] == alone["indices"]) >= 0.99
    if preset.startswith("enhancer"):
        joint = enhance_waveforms(model, waves)
        for wave, e in zip(waves, joint):
            alone = enhance_waveforms(model, [wave])[0]
            assert e.shape == wave.shape
            np.testing.assert_allclose(e, alone, atol=1e-5)


def test_presets_have_paper_shapes():
    qe = VQScoreModel.from_preset("vqscore-paper")
    se = VQEnhancerModel.from_preset("enhancer-paper")
    assert tuple(qe.quantizer.embed.shape) == (2048, 32) and qe.use_cosine_sim
    assert tuple(se.quantizer.embed.shape) == (4096, 128) and not se.use_cosine_sim
    assert tuple(qe.encoder.convs[0].kernel.shape) == (7, 257, 128)
    assert tuple(se.encoder.convs[0].kernel.shape) == (7, 257, 200)
    assert len(se.encoder.transformer_layers) == 2 and len(se.decoder.transformer_layers) == 2
    assert qe.hop_length == 256 and se.hop_length == 128 and se.input_transform == "log1p"
    with pytest.raises(ValueError, match="task"):
        VQScoreModel.from_preset("enhancer-paper")


def test_one_task_registry_names_each_tasks_class_presets_and_bundled_model():
    """`vqkeras.tasks` is the one place that says which class, presets and
    bundled model a task has; presets are data, built by the base class."""
    from vqkeras.model_archive import archive_task
    from vqkeras.models import PRESETS, VQVAEModel, model_class
    from vqkeras.tasks import TASKS, get_task, task_of_class

    assert set(TASKS) == {"qe", "se"}
    assert {p["task"] for p in PRESETS.values()} == set(TASKS)
    for name, task in TASKS.items():
        cls = model_class(name)
        assert cls.__name__ == task.model_class and cls.task == name
        assert task_of_class(task.model_class) is task and get_task(name) is task
        for preset in (task.paper_preset, task.tiny_preset):
            assert PRESETS[preset]["task"] == name
        # `from_preset` is defined once, on the base class: the preset picks the class
        assert "from_preset" not in vars(cls)
        model = VQVAEModel.from_preset(task.tiny_preset, seed=1)
        assert type(model) is cls and model.seed == 1
        assert type(cls.from_preset(task.tiny_preset)) is cls
        if os.path.exists(task.bundled_path):
            assert archive_task(task.bundled_path) == name
    with pytest.raises(ValueError, match="Unknown task"):
        model_class("asr")
    with pytest.raises(ValueError, match="Unknown preset"):
        VQVAEModel.from_preset("vqscore-huge")


def test_noise_lowers_vqscore_of_a_trained_model():
    """With the bundled default model, added noise lowers the score."""
    from vqkeras.api import BUNDLED, score
    if not os.path.exists(BUNDLED["qe"]):
        pytest.skip("no bundled default model in this checkout")
    clean = synth_speech(3.0, seed=7)
    rng = np.random.default_rng(0)
    noisy = [clean + rng.standard_normal(clean.shape).astype("float32") * np.std(clean) * 10 ** (-snr / 20)
             for snr in (20, 5, -5)]
    scores = score([clean] + noisy)
    assert scores[0] > scores[1] > scores[2] > scores[3]


def test_chunked_code_search_for_long_inputs_gives_the_same_scores(monkeypatch):
    import vqkeras.inference as inference
    model = random_codebook(build_from_preset("vqscore-tiny", seed=0))
    waves = [synth_speech(2.0, seed=3), synth_speech(1.1, seed=4)]
    direct, direct_frames = inference.score_frames(model, waves)
    monkeypatch.setattr(inference, "LONG_INPUT_SAMPLES", 1000)
    monkeypatch.setattr(inference, "QUANTIZE_CHUNK_FRAMES", 7)
    chunked, chunked_frames = inference.score_frames(model, waves)
    np.testing.assert_allclose(chunked, direct, atol=1e-6)
    for a, b in zip(direct_frames, chunked_frames):
        np.testing.assert_allclose(a, b, atol=1e-6)
    alone = run_model(model, waves[:1], ("vqscore",))[0]["vqscore"]
    assert abs(float(alone) - direct[0]) < 1e-5


def test_bundled_models_load_and_run_through_the_python_api():
    from vqkeras.api import BUNDLED, enhance, load_model
    for task, path in BUNDLED.items():
        if not os.path.exists(path):
            pytest.skip(f"no bundled {task} model in this checkout")
        assert load_model(None, task=task).task == task
    wave = synth_speech(1.5, seed=9)
    out = enhance([wave, wave[:9000]])
    assert [len(o) for o in out] == [len(wave), 9000]
    assert all(np.isfinite(o).all() for o in out)
    assert np.std(out[0]) > 0


def _numpy_gain(noisy, decoded, bins, exponent):
    smooth = lambda a: np.apply_along_axis(  # noqa: E731
        lambda r: np.convolve(r, np.ones(bins) / bins, mode="same"), -1, a)
    ratio = smooth(decoded ** 2) / np.maximum(smooth(noisy ** 2), 1e-12)
    return np.minimum(ratio ** (0.5 * exponent), 1.0)


def test_gain_resynthesis_scales_the_noisy_magnitude_by_the_decoder_gain():
    from vqkeras.layers.spectral_resynthesis import SpectralResynthesis
    from vqkeras.models.vq_enhancer_model import decoder_gain

    rng = np.random.default_rng(3)
    noisy = rng.random((2, 4, 33)).astype("float32") + 1e-3
    decoded = rng.random((2, 4, 33)).astype("float32") * 1.5
    got = ops.convert_to_numpy(decoder_gain(noisy, decoded, 5, 0.5))
    np.testing.assert_allclose(got, _numpy_gain(noisy, decoded, 5, 0.5), rtol=1e-4, atol=1e-6)
    assert got.max() <= 1.0 and got.min() >= 0.0

    model = random_codebook(build_from_preset("enhancer-tiny", seed=0, resynthesis="gain",
                                              gain_bins=5, gain_exponent=0.5))
    waves = [synth_speech(1.0, seed=4) + 0.05 * rng.standard_normal(16000).astype("float32"),
             synth_speech(0.6, seed=5)]
    enhanced = enhance_waveforms(model, waves)
    for wave, e in zip(waves, enhanced):
        out = run_model(model, [wave], ("features", "decoded"))[0]
        noisy_mag, dec_mag = np.expm1(out["features"]), np.expm1(out["decoded"])
        magnitude = noisy_mag * _numpy_gain(noisy_mag, dec_mag, 5, 0.5)
        synth = SpectralResynthesis(model.fft_length, model.hop_length, window="hamming")
        expected = ops.convert_to_numpy(synth(magnitude[None].astype("float32"), wave[None]))[0]
        np.testing.assert_allclose(e, expected, atol=2e-5)
        # the gain never adds energy: the output is no louder than the input
        assert np.sum(e ** 2) <= np.sum(wave ** 2) * 1.01
        np.testing.assert_allclose(e, enhance_waveforms(model, [wave])[0], atol=1e-5)


def test_resynthesis_options_are_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="resynthesis"):
        VQEnhancerModel.from_preset("enhancer-tiny", resynthesis="mask")
    with pytest.raises(ValueError, match="gain_bins"):
        VQEnhancerModel.from_preset("enhancer-tiny", resynthesis="gain", gain_bins=4)
    model = VQEnhancerModel.from_preset("enhancer-tiny", resynthesis="gain", gain_bins=7)
    path = os.path.join(tmp_path, "gain.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert (loaded.resynthesis, loaded.gain_bins, loaded.gain_exponent) == ("gain", 7, 0.5)


def test_log_input_transform_is_log_magnitude_above_the_floor():
    from vqkeras.layers.stft_magnitude import STFTMagnitude

    x = synth_speech(0.5, seed=6)[None]
    plain = ops.convert_to_numpy(STFTMagnitude(hop_length=256)(x))
    logged = ops.convert_to_numpy(STFTMagnitude(hop_length=256, log=True)(x))
    np.testing.assert_allclose(logged, np.log(plain / np.sqrt(1e-7)), rtol=1e-4, atol=1e-4)
    assert logged.min() >= -1e-5
    with pytest.raises(ValueError, match="exclusive"):
        STFTMagnitude(log=True, log1p=True)
    model = random_codebook(build_from_preset("vqscore-tiny", seed=0, input_transform="log"))
    out = run_model(model, [x[0]], ("features", "vqscore"))[0]
    np.testing.assert_allclose(out["features"], logged[0], rtol=1e-4, atol=1e-4)
    assert np.isfinite(out["vqscore"])
