"""Every vqkeras layer survives its config round trip (get_config ->
from_config, serialize_keras_object -> deserialize_keras_object) with the
same arguments, weights and outputs, and works on keras.Input; models keep
an explicit dtype policy through their config and a .keras file."""
import ast
import glob
import json
import os

import keras
import numpy as np
import pytest

from conftest import ROOT
from layer_test_case import run_dtype_policy_round_trip, run_layer_round_trip
from vqkeras import layers as vq_layers

RNG = np.random.default_rng(0)
FRAMES, MASK = 9, np.array([[1.0] * 9, [1.0] * 6 + [0.0] * 3], "float32")


def normal(*shape):
    return RNG.standard_normal(shape).astype("float32")


def positive(*shape):
    return (RNG.random(shape) + 0.05).astype("float32")


WAVEFORM = normal(2, 200)
LENGTHS = np.array([200, 150], "int32")
SPECTRUM_FRAMES = 1 + 200 // 16

# (class, non-default constructor arguments, positional inputs, call keyword
# arguments, (trainable, non-trainable) weight counts)
CASES = {
    "ConvEncoder": (vq_layers.ConvEncoder, dict(
        hidden_dims=(12, 10), output_dim=8, kernel_size=5, normalization="mean",
        num_transformer_layers=1, num_heads=2, intermediate_dim=6, dropout=0.1,
        negative_slope=0.2), [normal(2, FRAMES, 7), MASK], {}, (12 + 12, 0)),
    "ConvEncoder-instance": (vq_layers.ConvEncoder, dict(
        hidden_dims=(12, 10), output_dim=8, kernel_size=3, negative_slope=0.1),
        [normal(2, FRAMES, 7), MASK], {}, (12, 0)),
    "ConvDecoder": (vq_layers.ConvDecoder, dict(
        hidden_dims=(12, 10), output_dim=11, kernel_size=3, num_transformer_layers=1,
        num_heads=2, intermediate_dim=6, dropout=0.1, negative_slope=0.2),
        [normal(2, FRAMES, 8), MASK], {}, (12 + 12, 0)),
    "FrameMask": (vq_layers.FrameMask, dict(hop_length=16),
                  [LENGTHS, normal(2, SPECTRUM_FRAMES, 3)], {}, (0, 0)),
    "InstanceNormalization": (vq_layers.InstanceNormalization, dict(epsilon=0.5),
                              [normal(2, FRAMES, 4), MASK], {}, (0, 0)),
    "InstanceNormalization-center": (vq_layers.InstanceNormalization,
                                     dict(epsilon=0.5, center_only=True),
                                     [normal(2, FRAMES, 4)], {}, (0, 0)),
    "LeadingItemsMask": (vq_layers.LeadingItemsMask, dict(blocks=2), [normal(4, 3)], {}, (0, 0)),
    "MeanRemoval": (vq_layers.MeanRemoval, {}, [normal(2, FRAMES, 4), MASK], {}, (0, 0)),
    "NoiseTracker": (vq_layers.NoiseTracker, dict(
        window_frames=5, smooth_frames=3, bias=1.5, floor=1e-6),
        [positive(2, FRAMES, 5), MASK], {}, (0, 0)),
    "NoiseTracker-presence": (vq_layers.NoiseTracker, dict(
        window_frames=5, smooth_frames=3, bias=1.5, presence_window_frames=3,
        presence_snr_db=12.0, presence_smooth_frames=1, presence_iterations=2,
        min_noise_share=0.2), [positive(2, FRAMES, 5), MASK], {}, (0, 0)),
    "PriorLogMMSEGain-presence-mix": (vq_layers.PriorLogMMSEGain, dict(
        noise_window_frames=5, noise_smooth_frames=3, noise_presence_window_frames=5,
        noise_presence_snr_db=10.0, noise_presence_iterations=2, decoder_mix=0.4,
        decoder_mix_low_db=-3.0, decoder_mix_high_db=8.0),
        [positive(2, FRAMES, 9), positive(2, FRAMES, 9), MASK], {}, (0, 0)),
    "PriorLogMMSEGain": (vq_layers.PriorLogMMSEGain, dict(
        prior_weight=0.3, dd_alpha=0.9, min_prior_snr_db=-20.0, gain_floor_db=-10.0,
        smoothing_bins=5, max_snr_db=30.0, noise_window_frames=5, noise_smooth_frames=3,
        noise_bias=1.5), [positive(2, FRAMES, 9), positive(2, FRAMES, 9), MASK], {}, (0, 0)),
    "SpectralResynthesis": (vq_layers.SpectralResynthesis, dict(
        fft_length=64, hop_length=16, window="hann"),
        [positive(2, SPECTRUM_FRAMES, 33), WAVEFORM, LENGTHS], {}, (0, 0)),
    "SpectralResynthesis-gain": (vq_layers.SpectralResynthesis, dict(
        fft_length=64, hop_length=32, scale_input=True),
        [positive(2, 1 + 200 // 32, 33), WAVEFORM], {}, (0, 0)),
    "STFTMagnitude": (vq_layers.STFTMagnitude, dict(
        fft_length=64, hop_length=16, window="hamming", power_floor=1e-5, log1p=True),
        [WAVEFORM, LENGTHS], {}, (0, 0)),
    "STFTMagnitude-log": (vq_layers.STFTMagnitude, dict(fft_length=32, hop_length=8, log=True),
                          [WAVEFORM], {}, (0, 0)),
    "TransformerEncoderLayer": (vq_layers.TransformerEncoderLayer, dict(
        hidden_dim=8, num_heads=2, intermediate_dim=12, dropout=0.1, activation="relu",
        layer_norm_epsilon=1e-3), [normal(2, FRAMES, 8), MASK], {}, (12, 0)),
    "VectorQuantizer": (vq_layers.VectorQuantizer, dict(
        codebook_size=16, codebook_dim=8, use_cosine_sim=False, decay=0.9, eps=1e-4,
        kmeans_init=False, kmeans_iters=3, threshold_ema_dead_code=0.5,
        commitment_weight=0.25, freeze_codebook=True, seed=3),
        [normal(2, FRAMES, 8), MASK],
        {"target_indices": RNG.integers(0, 16, (2, FRAMES)).astype("int32")}, (0, 4)),
    "VectorQuantizer-cosine": (vq_layers.VectorQuantizer, dict(
        codebook_size=16, codebook_dim=8, kmeans_init=False, seed=4),
        [normal(2, FRAMES, 8)], {}, (0, 4)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip(case):
    cls, kwargs, inputs, call_kwargs, weights = CASES[case]
    run_layer_round_trip(cls, kwargs, inputs, call_kwargs, expected_weights=weights)


@pytest.mark.parametrize("case", sorted(CASES))
def test_dtype_policy_reaches_nested_layers(case):
    cls, kwargs, inputs, call_kwargs, _ = CASES[case]
    run_dtype_policy_round_trip(cls, kwargs, inputs, call_kwargs,
                                policy=keras.DTypePolicy("mixed_bfloat16"))


def test_round_trip_notices_a_dropped_argument(monkeypatch):
    """The helper fails for a layer whose config loses an argument."""
    cls = vq_layers.ConvEncoder
    original = cls.get_config

    def lossy(self):
        config = original(self)
        del config["negative_slope"]
        return config

    monkeypatch.setattr(cls, "get_config", lossy)
    _, kwargs, inputs, call_kwargs, weights = CASES["ConvEncoder"]
    with pytest.raises(AssertionError, match="negative_slope"):
        run_layer_round_trip(cls, kwargs, inputs, call_kwargs, weights)


def _layer_classes_in_source():
    """Names of the classes under vqkeras/ that derive from keras.layers.Layer
    (directly or through another such class), read from the source."""
    bases = {}
    for path in glob.glob(os.path.join(ROOT, "vqkeras", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [ast.unparse(b) for b in node.bases]
    found, grew = set(), True
    while grew:
        grew = False
        for name, parents in bases.items():
            if name not in found and any(p in ("keras.layers.Layer", "layers.Layer", "Layer")
                                         or p in found for p in parents):
                found.add(name)
                grew = True
    return found


def test_every_layer_class_has_a_case():
    covered = {cls.__name__ for cls, *_ in CASES.values()}
    in_source = _layer_classes_in_source()
    assert in_source, "no layer classes found: the source scan is broken"
    assert in_source <= covered, f"layers without a config round trip: {in_source - covered}"


# ----------------------------------------------------------------- models
MODEL_PRESETS = [("vqscore-tiny", "mixed_bfloat16"), ("enhancer-tiny", "mixed_float16")]


def _policy_names(model):
    return {layer.dtype_policy.name for layer in model._flatten_layers(include_self=True)
            if not isinstance(layer, keras.layers.InputLayer)}


@pytest.mark.parametrize("preset, policy", MODEL_PRESETS)
def test_model_keeps_its_dtype_policy(preset, policy, tmp_path):
    from vqkeras.models import build_from_preset

    model = build_from_preset(preset, seed=0, dtype=keras.DTypePolicy(policy))
    assert _policy_names(model) == {policy}
    assert model.encoder.compute_dtype == policy.split("_")[1]
    assert model.quantizer.embed.dtype == "float32"
    config = json.loads(json.dumps(model.get_config()))
    again = model.__class__.from_config(config)
    assert _policy_names(again) == {policy}
    assert again.get_config() == config

    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert _policy_names(loaded) == {policy}
    assert loaded.get_config() == config
    for saved, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored),
                                      keras.ops.convert_to_numpy(saved))


def test_model_without_dtype_follows_the_global_policy(tmp_path):
    """No `dtype` argument: built under the global policy, recorded as none,
    so the saved model loads under the policy in force when loading."""
    from vqkeras.models import build_from_preset
    from vqkeras.training.mixed_precision import dtype_policy_scope

    with dtype_policy_scope("mixed_bfloat16"):
        model = build_from_preset("vqscore-tiny", seed=0)
    assert model.encoder.compute_dtype == "bfloat16"
    assert model.get_config()["dtype"] is None
    path = str(tmp_path / "model.keras")
    model.save(path)
    assert _policy_names(keras.saving.load_model(path, compile=False)) == {"float32"}


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_transformer_masks_padding_in_16_bits(policy):
    """Padded keys get a fill that 16-bit floats can hold: no inf or NaN, and
    the valid frames come out as in float32."""
    x, mask = normal(2, FRAMES, 8), MASK
    reference = vq_layers.TransformerEncoderLayer(8, 2, dropout=0.0)
    reference(x, mask)
    layer = vq_layers.TransformerEncoderLayer(8, 2, dropout=0.0, dtype=policy)
    layer(x, mask)
    layer.set_weights(reference.get_weights())
    want = keras.ops.convert_to_numpy(reference(x, mask))
    got = keras.ops.convert_to_numpy(keras.ops.cast(layer(x, mask), "float32"))
    assert np.all(np.isfinite(got))
    valid = MASK.astype(bool)
    np.testing.assert_allclose(got[valid], want[valid], atol=0.1)
