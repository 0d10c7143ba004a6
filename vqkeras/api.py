"""Python entry points: load_model, score, enhance."""
import os

import numpy as np

from vqkeras.audio import SAMPLE_RATE, read_audio

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")
BUNDLED = {
    "qe": os.path.join(WEIGHTS_DIR, "vqscore-default.keras"),
    "se": os.path.join(WEIGHTS_DIR, "enhancer-default.keras"),
}


class ModelError(Exception):
    """A model file that cannot be used; the message says why."""


def load_model(path=None, task="qe"):
    """Loads a vqkeras model.

    Args:
        path: a `.keras` file written by vqkeras, or None for the bundled
            default model of `task`.
        task: `"qe"` (quality estimation) or `"se"` (enhancement); used
            when `path` is None and to check a given file.

    Returns:
        A `VQScoreModel` or `VQEnhancerModel`.
    """
    import keras

    from vqkeras.models.vqvae_model import VQVAEModel

    if path is None:
        path = BUNDLED[task or "qe"]
        if not os.path.exists(path):
            raise ModelError(f"no bundled default model for task {task!r} in {WEIGHTS_DIR}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such model file")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:
        raise ModelError(f"{path}: not a loadable vqkeras model ({str(err).splitlines()[0][:200]})") from None
    if not isinstance(model, VQVAEModel):
        raise ModelError(f"{path}: holds a {type(model).__name__}, not a vqkeras model")
    if task is not None and getattr(model, "task", None) != task:
        kind = {"qe": "quality-estimation", "se": "enhancement"}
        raise ModelError(f"{path}: is a {kind.get(model.task, model.task)} model, "
                         f"not a {kind[task]} model")
    return model


def _as_waveforms(inputs):
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    elif isinstance(inputs, np.ndarray) and inputs.ndim == 1:
        inputs = [inputs]
    waves = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            waves.append(read_audio(item)[0])
        else:
            w = np.asarray(item, dtype=np.float32)
            if w.ndim != 1 or w.size == 0:
                raise ValueError("waveforms must be non-empty 1-D arrays at "
                                 f"{SAMPLE_RATE} Hz; got shape {w.shape}")
            waves.append(w)
    return waves


def score(inputs, model=None, variant="cos_z", batch_size=16):
    """VQScore of waveforms (1-D float arrays at 16 kHz) or audio files.

    Args:
        inputs: a path, a waveform, or a list of either.
        model: a loaded `VQScoreModel`, a path to one, or None for the bundled
            default model.
        variant: `"cos_z"` (default), `"cos_x"`, `"l2_z"` or `"l2_x"`.
        batch_size: items per padded batch.

    Returns:
        A list of floats, one per input.
    """
    from vqkeras.inference import score_waveforms

    if model is None or isinstance(model, (str, os.PathLike)):
        model = load_model(model, task="qe")
    waves = _as_waveforms(inputs)
    scores = []
    for start in range(0, len(waves), batch_size):
        scores.extend(score_waveforms(model, waves[start:start + batch_size], variant))
    return scores


def enhance(inputs, model=None, batch_size=4, resynthesis=None):
    """Enhanced versions of waveforms or audio files (16 kHz float32 arrays,
    same lengths as the inputs). `resynthesis` (`"decoded"`, `"gain"` or
    `"logmmse_prior"`, see `VQEnhancerModel`) overrides the model's own
    setting."""
    from vqkeras.inference import enhance_waveforms

    if model is None or isinstance(model, (str, os.PathLike)):
        model = load_model(model, task="se")
    if resynthesis is not None:
        model = model.with_resynthesis(resynthesis)
    waves = _as_waveforms(inputs)
    out = []
    for start in range(0, len(waves), batch_size):
        out.extend(enhance_waveforms(model, waves[start:start + batch_size]))
    return out
