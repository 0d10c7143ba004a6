"""Shared test helpers. The suite runs once per backend (KERAS_BACKEND)."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("VQKERAS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
BACKEND = keras.backend.backend()

tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow-only test (data/export)")


def shared_path(*parts):
    """Path inside ../shared, skipping the test when it is absent."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"{path} not found: ../shared is only beside the project checkout")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def synth_speech(seconds=2.0, rate=16000, seed=0):
    """Speech-like test signal: harmonic voiced segments with a moving pitch,
    syllable-rate envelope and short pauses."""
    r = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + r.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t + r.uniform(0, 6)), 0, None) ** 0.5
    return (0.2 * voiced * envelope).astype(np.float32)


def tiny_saved_model(folder, preset):
    """A tiny preset model with a fixed random codebook, saved under
    `folder`; returns its path (for CLI and engine tests)."""
    from vqkeras.models import build_from_preset

    model = build_from_preset(preset, seed=0)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((model.codebook_size, model.codebook_dim)).astype("float32")
    if model.use_cosine_sim:
        codes /= np.linalg.norm(codes, axis=-1, keepdims=True)
    model.quantizer.embed.assign(codes)
    model.quantizer.initted.assign(1.0)
    path = str(folder / f"{preset}.keras")
    model.save(path)
    return path
